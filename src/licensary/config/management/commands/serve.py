import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

# Django behind the verification fast path, or the fast path alone (config/wsgi.py).
APPLICATION = "licensary.config.wsgi:application"
VERIFY_ONLY = "licensary.config.wsgi:verify_application"
THREADS = 4  # blocking threads a worker: its requests wait on the database in them
# granian's own logging, written in batches (config/logs.py). Its access log stays off: every
# answer gets our JSON access line instead (core/logging.py), with the request id.
LOG_CONFIG = Path(__file__).resolve().parents[2] / "granian_logging.json"


def server_argv(host: str, port: int, workers: int, *, verify_only: bool = False) -> list[str]:
    """granian, on its WSGI interface: Django runs as natively as under gunicorn, and the two
    verification routes are answered before Django's machinery (verification/fastpath.py)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        VERIFY_ONLY if verify_only else APPLICATION,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(THREADS),
        "--no-ws",
        "--log-config",
        str(LOG_CONFIG),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "20",
    ]


def metrics_environ(port: int) -> dict[str, str]:
    """The environment of the web processes: log lines in batches, unless told otherwise
    (settings' LOGGING), and their Prometheus counters in one folder per
    server (prometheus-client's multiprocess mode), emptied first, so that /metrics on any
    process gives the sum over all of them since this server started."""
    folder = Path(settings.DATA_DIR) / f"prometheus-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return {
        "LICENSARY_LOG_BUFFERED": "true",
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }


class Command(BaseCommand):
    help = (
        "Serve the web application with granian (never Django's development server); "
        "--verify-only serves the verification routes alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--verify-only",
            action="store_true",
            help="Only POST /api/v1/verify and GET /api/v1/verify/keys; 404 for the rest.",
        )

    def handle(
        self,
        *args: object,
        host: str,
        port: int,
        workers: int,
        verify_only: bool,
        **options: object,
    ) -> None:
        argv = server_argv(host, port, workers, verify_only=verify_only)
        os.execve(argv[0], argv, metrics_environ(port))
