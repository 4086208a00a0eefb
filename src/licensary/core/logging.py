"""Log lines as JSON, one object a line, each with the request id of the request it belongs to
(the same id the answer's `X-Request-Id`, its problem+json and its audit entries carry).

Nothing secret goes in: the access line names the route pattern and a path whose secret parts
(a password-reset token, ...) are blanked, never a query string, header or body."""

import json
import logging
import time
import traceback
from functools import lru_cache
from typing import Any

from licensary.core.metrics import request_answered
from licensary.core.middleware import current_request

access_logger = logging.getLogger("licensary.access")

# What no line of ours prints, not worked out for every record (the logging HOWTO's
# "Optimization"): the caller's file and line (a frame walk, 5 us a record) and the process and
# multiprocessing names.
logging._srcfile = None
logging.logProcesses = False
logging.logMultiprocessing = False

# The attributes every LogRecord has; anything else was passed in `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# One encoder for every line: `json.dumps` with options makes a new one each call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


@lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def utc_time_text(created: float) -> str:
    """`created` (a LogRecord's time) as ISO 8601 UTC to the millisecond, like
    `datetime.isoformat(timespec="milliseconds")`: `2026-12-03T20:10:29.948+00:00`."""
    second = int(created)
    return f"{_second_text(second)}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_time_text(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_request()
        if context.get("request_id"):
            line["request_id"] = context["request_id"]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return _ENCODER.encode(line)


def log_access(
    *, method: str, route: str, path: str, status: int, seconds: float, request_id: str
) -> None:
    """One answered request: counted for /metrics and written as the access line (Django's
    requests by config's middleware, the verification fast path's by itself). `path` must
    already have its secret parts blanked."""
    request_answered(route=route, method=method, status=status, seconds=seconds)
    access_logger.info(
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "ms": round(seconds * 1000, 2),
            "request_id": request_id,
        },
    )
