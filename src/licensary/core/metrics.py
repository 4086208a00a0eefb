"""The process's own counters for Prometheus: requests, their latency and verification answers.

Counted where they happen (any layer may count: this sits in core); served with the numbers read
from the database at scrape time by `config/metrics.py`. Under `licensary serve` and `up` every
web process writes its counters to `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess
mode), so a scrape that lands on any one process sees the sum of all of them."""

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "licensary_http_requests",
    "HTTP requests answered, by route pattern, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "licensary_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
VERIFICATIONS = Counter(
    "licensary_verification_answers",
    "Signed verification answers, by the license status they gave.",
    ["status"],
)


# A metric's `labels()` looks its child up under a lock and checks every label (3-4 us, three
# times a verification); the children, once made, are kept here. Bounded: routes are the
# URL patterns, statuses the HTTP codes and the license states.
@lru_cache(maxsize=4096)
def _requests(route: str, method: str, status: int) -> Any:
    return REQUESTS.labels(route=route, method=method, status=str(status))


@lru_cache(maxsize=1024)
def _latency(route: str) -> Any:
    return LATENCY.labels(route=route)


@lru_cache(maxsize=64)
def _verifications(status: str) -> Any:
    return VERIFICATIONS.labels(status=status)


def request_answered(*, route: str, method: str, status: int, seconds: float) -> None:
    _requests(route, method, status).inc()
    _latency(route).observe(seconds)


def verification_answered(*, status: str) -> None:
    _verifications(status).inc()
