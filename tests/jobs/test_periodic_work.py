"""The worker runs the periodic work the apps register (the licenses app: the sweep every
minute) beside the jobs, one thread each, round after round until it stops; a failed round is
logged and the next one tries again."""

import logging
import threading
import time

import pytest

from licensary.jobs import periodic, runner
from licensary.jobs.periodic import Periodic
from licensary.jobs.runner import run_every
from licensary.licenses.apps import sweep_round


def test_the_licenses_app_registers_the_sweep_every_minute():
    works = {work.name: work for work in periodic.registered()}

    assert works["sweep"] == Periodic(name="sweep", run=sweep_round, every_seconds=60.0)


@pytest.mark.django_db
def test_a_sweep_round_with_nothing_due_has_nothing_to_say():
    assert sweep_round(lambda: False) is None


@pytest.mark.django_db
def test_rounds_go_on_after_a_failed_one_until_the_worker_stops(caplog):
    caplog.set_level(logging.INFO, logger="licensary.jobs.runner")
    stop = threading.Event()
    asked: list[bool] = []

    def flaky(should_stop):
        asked.append(should_stop())
        if len(asked) == 1:
            raise RuntimeError("upstream down")
        if len(asked) == 3:
            stop.set()  # SIGTERM arrives during the third round
        return f"round {len(asked)}"

    run_every(Periodic(name="flaky", run=flaky, every_seconds=60), seconds=0, stop=stop)

    assert asked == [False, False, False]
    assert "flaky failed; retrying next round" in caplog.text
    assert "flaky: round 2" in caplog.text
    assert "flaky: round 3" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_each_work_in_its_own_thread_at_the_interval_asked(monkeypatch):
    monkeypatch.setattr(periodic, "_registry", {})
    ticks: list[float] = []
    periodic.register(name="tick", run=lambda should_stop: ticks.append(1.0), every_seconds=3600)
    threads: list[threading.Thread] = []

    class JobsLoop:
        worker_id = "test-worker"

        def configure_signals(self) -> None:
            pass

        def run(self) -> None:
            deadline = time.monotonic() + 5
            while len(ticks) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)  # `every` made it 0 s instead of the hour registered
            threads.extend(t for t in threading.enumerate() if t.name == "licensary-tick")

    monkeypatch.setattr(runner, "make_worker", lambda **kwargs: JobsLoop())

    runner.run_worker(every={"tick": 0})

    assert len(ticks) >= 3
    assert len(threads) == 1
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()  # the jobs loop ended, so did the periodic work


@pytest.mark.django_db
def test_a_round_runs_even_when_its_record_cannot_be_written(caplog, monkeypatch):
    def database_away(**fields):
        raise RuntimeError("database away")

    monkeypatch.setattr(runner, "periodic_started", database_away)
    monkeypatch.setattr(runner, "periodic_finished", database_away)
    ran: list[int] = []

    runner.run_round(Periodic(name="tick", run=lambda s: ran.append(1) or "ok", every_seconds=1))

    assert ran == [1]
    assert "tick: could not record its round" in caplog.text
