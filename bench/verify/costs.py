"""Where the fast path's time goes, in one process, with no server or network in between.

    DATABASE_URL=... LICENSARY_DATA_DIR=... uv run python bench/verify/costs.py \\
        [--requests 20000] [--product bench-verify]

Run against a database bench/verify/load.py filled (one license on 127.0.0.1). It calls the
WSGI application `licensary serve` runs (`config/wsgi.py`: the fast path in front of Django)
with a verify request built in memory, as many times as `--requests`, best of three, with the
access log on (written to a buffer, as `serve` writes it) and the Prometheus counters in
multiprocess mode (a temporary folder, as `serve` keeps them). Then it takes the features out
one by one (each row keeps the ones above it out): the JSON access line, the request count
and latency histogram, the
verification counter, the throttle, the host check, the middleware headers, the proxy-aware
client address and the request id context. Last, the reference (bench/reference_verify.py) on
the same database, for the floor. Only for reading the costs: nothing here is how the product
runs. The table is what issue 13's note cites for a missed target.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/
from tables import markdown_table  # noqa: E402

NONCE = "bench-verify-nonce-0123456789abcdef"
App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _timed(app: App, body: bytes, requests: int) -> float:
    """Microseconds a request, the best of three rounds after a warm-up."""

    def environ() -> dict[str, Any]:
        return {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/verify",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }

    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    for _ in range(min(2000, requests)):
        b"".join(app(environ(), start_response))
    if set(statuses) != {"200 OK"}:
        sys.exit(f"the application answered {sorted(set(statuses))}, not only 200 OK")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(requests):
            b"".join(app(environ(), start_response))
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--product", default="bench-verify")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "licensary.config.settings")
    os.environ.update(
        LICENSARY_LOG_LEVEL="INFO",
        LICENSARY_LOG_BUFFERED="true",
        LICENSARY_VERIFY_RATE="1000000000/m",
        LICENSARY_DEBUG="false",
        LICENSARY_ALLOWED_HOSTS="127.0.0.1",
        LICENSARY_SECURE="false",
    )
    metrics_dir = tempfile.TemporaryDirectory(prefix="licensary-costs-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name

    import django

    django.setup()
    import logging

    from licensary.config.wsgi import application
    from licensary.verification import fastpath, services

    devnull = open(os.devnull, "w")  # noqa: SIM115  (the log lines go nowhere, at once)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)

    body = f'{{"product":"{args.product}","nonce":"{NONCE}"}}'.encode()
    rows: list[list[str]] = []
    previous = _timed(application, body, args.requests)
    rows.append(["the fast path as `licensary serve` runs it", f"{previous:.1f}", ""])

    def without(label: str, take_out: Callable[[], None]) -> None:
        nonlocal previous
        take_out()
        now = _timed(application, body, args.requests)
        rows.append([f"- {label}", f"{now:.1f}", f"{previous - now:.1f}"])
        previous = now

    without("the JSON access line", lambda: setattr(fastpath, "log_access", _metrics_only))
    without("the request count and latency", lambda: setattr(fastpath, "log_access", _nil))
    without("the verification counter", lambda: setattr(services, "verification_answered", _nil))
    without("the per-IP throttle", lambda: setattr(fastpath, "verify_throttled", _no))
    without(
        "the host and https checks",
        lambda: setattr(fastpath.VerifyFastPath, "_plain", lambda self, environ: True),
    )
    without("the middleware headers", lambda: setattr(fastpath, "_stack_headers", _none))
    without(
        "the proxy-aware client address",
        lambda: setattr(fastpath, "client_ip_of", lambda environ: environ["REMOTE_ADDR"]),
    )

    os.environ["REFERENCE_DATABASE_URL"] = os.environ["DATABASE_URL"]
    os.environ["REFERENCE_PRODUCT"] = args.product
    import reference_verify

    reference = _timed(reference_verify.application, body, args.requests)
    rows.append(["the reference (bench/reference_verify.py)", f"{reference:.1f}", ""])
    print(markdown_table([["in one process, no server", "us a request", "it cost"], *rows]))
    metrics_dir.cleanup()
    devnull.close()


def _metrics_only(
    *, method: str, route: str, path: str, status: int, seconds: float, request_id: str
) -> None:
    from licensary.core.metrics import request_answered

    request_answered(route=route, method=method, status=status, seconds=seconds)


def _nil(**kwargs: object) -> None:
    return None


def _no(ip: str) -> bool:
    return False


def _none(*args: object) -> tuple[()]:
    return ()


if __name__ == "__main__":
    main()
