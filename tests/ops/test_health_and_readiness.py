"""Issue 14 item 1: /healthz says the process answers; /readyz says the deployment can work:
the database answers, no migration is pending, a worker beat less than two minutes ago and the
lifecycle sweep succeeded recently."""

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.utils import timezone

from licensary.jobs.health import last_rounds, last_worker_beat, worker_beat
from licensary.jobs.periodic import Periodic
from licensary.jobs.runner import beat_every, run_round

pytestmark = pytest.mark.django_db


def ready() -> tuple[int, dict[str, Any]]:
    response = Client().get("/readyz")
    return response.status_code, response.json()


def sweep_succeeds() -> None:
    run_round(Periodic(name="sweep", run=lambda should_stop: "swept 0", every_seconds=60))


def test_healthz_answers_ok_without_touching_the_database(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_503_naming_the_worker_and_the_sweep_when_neither_ever_ran() -> None:
    status, body = ready()
    assert status == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True, "pending": []}
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["last_beat"] is None
    assert body["checks"]["sweep"]["ok"] is False


def test_readyz_is_200_with_a_fresh_worker_beat_and_a_recent_sweep() -> None:
    worker_beat(worker_id="w1", started_at=timezone.now())
    sweep_succeeds()

    status, body = ready()

    assert status == 200, body
    assert body["status"] == "ready"
    assert all(check["ok"] for check in body["checks"].values())


def test_a_worker_beat_older_than_two_minutes_is_not_ready() -> None:
    with time_machine.travel(timezone.now() - timedelta(seconds=121), tick=False):
        worker_beat(worker_id="w1", started_at=timezone.now())
    sweep_succeeds()

    status, body = ready()

    assert status == 503
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["age_seconds"] >= 121
    assert body["checks"]["sweep"]["ok"] is True


def test_a_failing_sweep_round_is_recorded_and_readiness_goes_stale_after_ten_minutes() -> None:
    worker_beat(worker_id="w1", started_at=timezone.now())
    with time_machine.travel(timezone.now() - timedelta(minutes=11), tick=False):
        sweep_succeeds()

    def broken(should_stop: Any) -> str:
        raise RuntimeError("database went away")

    run_round(Periodic(name="sweep", run=broken, every_seconds=60))  # logged, never raised

    last = last_rounds()["sweep"]
    assert last.failed is True and last.finished_at is not None
    status, body = ready()
    assert status == 503
    assert body["checks"]["sweep"]["last_failed"] is True
    assert body["checks"]["sweep"]["ok"] is False


def test_an_unapplied_migration_makes_readyz_503_and_it_checks_nothing_further() -> None:
    # As after deploying new code without `licensary migrate`: the newest jobs migration is
    # not recorded as applied.
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="jobs").order_by("-name").first()
    assert latest is not None
    recorder.record_unapplied("jobs", latest.name)

    status, body = ready()

    assert status == 503
    assert body["checks"]["migrations"] == {"ok": False, "pending": [f"jobs.{latest.name}"]}
    assert set(body["checks"]) == {"database", "migrations"}


def test_readyz_refuses_a_post() -> None:
    assert Client().post("/readyz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_worker_beat_thread_writes_its_beat_and_stops_with_the_worker() -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=beat_every, kwargs={"worker_id": "w-thread", "seconds": 0.05, "stop": stop}
    )
    thread.start()
    try:
        for _ in range(100):
            if last_worker_beat() is not None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    seen = last_worker_beat()
    assert seen is not None and timezone.now() - seen < timedelta(seconds=5)
