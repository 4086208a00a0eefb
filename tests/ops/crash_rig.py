"""The pieces of the crash matrix: a real `licensary worker` process that the test SIGKILLs,
the servers it talks to (an SMTP server, a webhook receiver), each able to stall at a chosen
point, and row locks held on a PostgreSQL connection of the test's own.

Nothing here reaches into the worker: it is started as production starts it, with settings
in its environment, and stopped at a real point of its work (a lock it waits for, a server
that has the request and does not answer yet)."""

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

WAIT_SECONDS = 60.0  # the longest any step of a case may take before the test fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url() -> str:
    """The test database, as the worker process reaches it."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = WAIT_SECONDS) -> Any:
    """Poll `check` until it answers something true; that answer (an AssertionError naming
    `what` when it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class WorkerProcess:
    """`licensary worker` in its own process group, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "licensary.cli", "worker", "--sweep-every", "0.5"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler, no cleanup, no commit."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Workers:
    """Starts workers with the test database's settings; kills every one still running at
    the end, whatever happened."""

    env: dict[str, str]
    log: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.log)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            with suppress(ProcessLookupError, subprocess.TimeoutExpired):
                worker.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def worker_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "LICENSARY_DATA_DIR": str(tmp_path / "data"),
        # Webhook and supplier secrets are sealed with it: the worker opens what the test made.
        "LICENSARY_SECRET_KEY": settings.SECRET_KEY,
        "LICENSARY_DEBUG": "false",
        "LICENSARY_LOG_LEVEL": "INFO",
        "LICENSARY_LOG_FORMAT": "text",
        "LICENSARY_ALLOW_PRIVATE_IPS": "true",
        "LICENSARY_JOB_POLL_MS": "100",
        **extra,
    }


class RowLock:
    """A PostgreSQL session of the test's own holding row locks (`SELECT ... FOR UPDATE`)
    until `release()`: the worker's transaction that needs one of them waits right there."""

    def __init__(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        db = connection.settings_dict
        self.conn = psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
        )
        rows = self.conn.execute(sql, params).fetchall()
        assert rows, f"nothing to lock: {sql} {params}"
        self.pid = self.conn.info.backend_pid

    def waiting(self) -> list[str]:
        """The statements of the sessions that wait for this one's locks now."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [self.pid],
            )
            return [row[0] for row in cursor.fetchall()]

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


@contextmanager
def row_locks() -> Iterator[Callable[..., RowLock]]:
    """`lock(sql, params)` holds a RowLock; every one is released at the end."""
    held: list[RowLock] = []

    def lock(sql: str, params: tuple[Any, ...] = ()) -> RowLock:
        held.append(RowLock(sql, params))
        return held[-1]

    try:
        yield lock
    finally:
        for one in held:
            one.release()


@dataclass(frozen=True)
class ReceivedMail:
    message_id: str
    to: str
    subject: str


class SmtpServer:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it is given. With
    `stall_at = n` it takes the n-th message into its store and then holds its answer back
    until `release` is set: the message is the server's, the client has not heard "250" yet
    (the window in which a sender that dies cannot know it was sent)."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.stall_at: int | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.port = free_port()
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self.received.append(
                ReceivedMail(
                    message_id=str(message["Message-ID"]),
                    to=",".join(envelope.rcpt_tos),
                    subject=str(message["Subject"]),
                )
            )
            number = len(self.received)
        if number == self.stall_at:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()


@dataclass(frozen=True)
class ReceivedHook:
    webhook_id: str
    headers: dict[str, str]
    body: bytes


class HookReceiver:
    """An agent's webhook receiver on 127.0.0.1 that keeps every request. With `hang_at = n`
    it takes the n-th request in and holds its answer back until `release` is set."""

    def __init__(self) -> None:
        self.requests: list[ReceivedHook] = []
        self.hang_at: int | None = None
        self.hung = threading.Event()
        self.release = threading.Event()
        owner = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with lock:
                    owner.requests.append(ReceivedHook(headers["webhook-id"], headers, body))
                    number = len(owner.requests)
                if number == owner.hang_at:
                    owner.hung.set()
                    owner.release.wait(WAIT_SECONDS)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender is gone

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/licensary"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
