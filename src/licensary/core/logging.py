"""Log lines as JSON, one object a line, each with the request id of the request it belongs to
(the same id the answer's `X-Request-Id`, its problem+json and its audit entries carry).

Nothing secret goes in: the access line names the route pattern and a path whose secret parts
(a password-reset token, ...) are blanked, never a query string, header or body."""

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from licensary.core.metrics import request_answered
from licensary.core.middleware import current_request

access_logger = logging.getLogger("licensary.access")

# The attributes every LogRecord has; anything else was passed in `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return json.dumps(line, default=str, ensure_ascii=False)


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
