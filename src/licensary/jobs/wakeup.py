"""Waking a worker when a job is enqueued, instead of at its next poll.

On PostgreSQL every enqueue runs `pg_notify('licensary_jobs', <queue name>)` in the enqueueing
transaction (`jobs.backend`), so the notification is delivered when that transaction commits
and never for one rolled back. Each worker LISTENs on a dedicated autocommit psycopg connection
of its own and waits on it between empty polls, at most one poll interval: the poll stays the
fallback, for a notification lost with a dropped connection and for jobs that become due later
(`run_after`). Any number of workers may listen; all wake, and `SKIP LOCKED` still decides
which one runs the job. SQLite has no such channel: there the wait is the poll interval.
"""

import contextlib
import logging
import time
from datetime import datetime

import psycopg
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

CHANNEL = "licensary_jobs"


def jobs_notify(*, using: str, queue_name: str, run_after: datetime | None) -> None:
    """Tell listening workers that a job of `queue_name` is ready, when its transaction commits
    (a job due later is found by the poll that comes after its time)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if run_after is not None and run_after > timezone.now():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, queue_name])


class JobsWakeup:
    """What a worker waits on between empty polls: a notification on PostgreSQL, else time.

    The listening connection is opened on the first wait and opened again after it drops
    (logged); a wait that cannot listen sleeps its timeout, which is the poll."""

    def __init__(self, *, using: str = "default") -> None:
        self.using = using
        self.listens = connections[using].vendor == "postgresql"
        self._conn: psycopg.Connection | None = None

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (None while not listening)."""
        return self._conn.info.backend_pid if self._conn is not None else None

    def listen(self) -> bool:
        """Open the listening connection if it is not open; whether it is now."""
        if not self.listens:
            return False
        if self._conn is not None:
            return True
        params = connections[self.using].get_connection_params()
        try:
            conn = psycopg.connect(**params, autocommit=True)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            logger.warning("jobs: cannot LISTEN on %s; polling until it can", CHANNEL)
            return False
        self._conn = conn
        return True

    def wait(self, timeout: float) -> bool:
        """Wait until a job is enqueued or `timeout` seconds have passed; True when a
        notification woke it. Notifications that came meanwhile (while jobs ran) wake it at
        once: they were kept by the connection since it started listening."""
        started = time.monotonic()
        if not self.listen():
            time.sleep(timeout)
            return False
        assert self._conn is not None
        try:
            woken = any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
            if woken:  # one look at the queue answers every notification that came with it
                for _ in self._conn.notifies(timeout=0):
                    pass
        except psycopg.Error:
            logger.warning("jobs: the LISTEN connection dropped; polling, then listening again")
            self.close()
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
            return False
        return woken

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
