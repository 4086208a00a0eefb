"""The process's own counters for Prometheus: requests, their latency and verification answers.

Counted where they happen (any layer may count: this sits in core); served with the numbers read
from the database at scrape time by `config/metrics.py`. Under `licensary serve` and `up` every
web process writes its counters to `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess
mode), so a scrape that lands on any one process sees the sum of all of them."""

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


def request_answered(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route).observe(seconds)


def verification_answered(*, status: str) -> None:
    VERIFICATIONS.labels(status=status).inc()
