"""On PostgreSQL an enqueue wakes the workers (LISTEN/NOTIFY) instead of waiting for their
next poll; the poll stays the fallback when the listening connection drops (issue 13 item 4).

The workers here are the real worker loop in threads of the test process, with a poll
interval long enough that a job picked up in time can only have been woken."""

import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.db import connection, connections, transaction

from licensary.jobs.runner import make_worker
from licensary.jobs.tasks import enqueue
from licensary.jobs.wakeup import CHANNEL, JobsWakeup
from tests.helpers import on_postgres
from tests.jobs import tasks_for_tests
from tests.jobs.tasks_for_tests import records_run

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    not on_postgres(), reason="LISTEN/NOTIFY exists only on PostgreSQL"
)


class WorkerThread:
    """One worker loop (`licensary worker` without its sweep thread) in a thread."""

    def __init__(self, *, interval: float) -> None:
        self.worker = make_worker(batch=False, interval=interval)
        self.worker.startup_delay = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connections.close_all()

    def start(self) -> "WorkerThread":
        self.thread.start()
        wait_for(lambda: self.listening_pid() is not None, seconds=5)
        return self

    def listening_pid(self) -> int | None:
        wakeup = self.worker.wakeup
        return wakeup.backend_pid if wakeup is not None else None

    def stop(self) -> None:
        self.worker.running = False
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, 'stop')", [CHANNEL])
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


def wait_for(condition: Callable[[], bool], *, seconds: float) -> float:
    """Seconds until `condition()` held; fails the test after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def workers() -> Iterator[Callable[..., WorkerThread]]:
    started: list[WorkerThread] = []

    def start(*, interval: float) -> WorkerThread:
        started.append(WorkerThread(interval=interval).start())
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def listener() -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def received(conn: psycopg.Connection, *, within: float) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=within)]


@postgres_only
def test_the_wake_up_is_delivered_when_the_enqueueing_transaction_commits(listener):
    with transaction.atomic():
        enqueue(records_run, label="paid")
        assert received(listener, within=0.3) == []

    assert received(listener, within=2) == ["default"]


@postgres_only
def test_a_rolled_back_enqueue_wakes_nobody(listener):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(records_run, label="abandoned")
        raise RuntimeError

    assert received(listener, within=0.5) == []


@postgres_only
def test_a_job_enqueued_is_run_long_before_the_poll_interval(workers):
    workers(interval=30)

    enqueue(records_run, label="paid")

    assert wait_for(lambda: tasks_for_tests.RUNS == ["paid"], seconds=3) < 3


@postgres_only
def test_several_listening_workers_run_each_job_once(workers):
    workers(interval=30)
    workers(interval=30)

    labels = [f"job {n}" for n in range(8)]
    for label in labels:
        with transaction.atomic():
            enqueue(records_run, label=label)

    wait_for(lambda: len(tasks_for_tests.RUNS) >= len(labels), seconds=5)
    time.sleep(0.3)  # a second run of any job would show by now
    assert sorted(tasks_for_tests.RUNS) == sorted(labels)


@postgres_only
def test_a_dropped_listen_connection_falls_back_to_polling_and_listens_again(workers):
    worker = workers(interval=4)
    dropped = worker.listening_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])

    enqueue(records_run, label="during the outage")
    # The poll finds it (its notification went nowhere, or woke a dying connection).
    wait_for(lambda: tasks_for_tests.RUNS == ["during the outage"], seconds=4 + 3)

    wait_for(lambda: worker.listening_pid() not in (None, dropped), seconds=5)
    enqueue(records_run, label="after it")
    assert wait_for(lambda: "after it" in tasks_for_tests.RUNS, seconds=2) < 2


def test_without_postgresql_to_listen_on_the_wait_is_the_poll(monkeypatch):
    wakeup = JobsWakeup()
    monkeypatch.setattr(wakeup, "listens", False)

    started = time.monotonic()
    assert wakeup.wait(0.2) is False
    assert time.monotonic() - started >= 0.2
    assert wakeup.backend_pid is None
