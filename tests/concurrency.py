"""Running one piece of work in many threads at once, for the concurrency tests."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

CONCURRENCY = (
    "needs real row locks and concurrent writers: runs on PostgreSQL "
    "(SQLite serialises every writer, so there is no race to lose)"
)
TRIGGERS = "the database trigger exists on PostgreSQL only (SQLite checks in the transaction)"


def require_postgres(reason: str = CONCURRENCY) -> None:
    """Skip the calling test unless it runs on PostgreSQL (decided at run time)."""
    if connection.vendor != "postgresql":
        pytest.skip(reason)


def run_concurrently(work: Callable[[int], Any], count: int, *, timeout: float = 120) -> list:
    """Run `work(0) .. work(count - 1)`, each in its own thread, released together.

    Returns what each call returned, or the exception it raised. Every thread closes its own
    database connection at the end, so the test's flush is not blocked by idle sessions.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = work(index)
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), name=f"worker-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def errors(results: list) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]
