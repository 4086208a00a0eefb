"""The access line and the request metrics of every answer, timed from the first middleware."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from licensary.core.metrics import request_answered

logger = logging.getLogger("licensary.access")

# URL parameters that are secrets (a password-reset link's token): blanked in the access line.
SECRET_PARAMETERS = ("token", "secret", "key", "uidb64")


def _logged_path(request: HttpRequest) -> str:
    match = request.resolver_match
    path = request.path
    if match is not None:
        for name, value in match.kwargs.items():
            if any(secret in name for secret in SECRET_PARAMETERS) and str(value):
                path = path.replace(str(value), "[redacted]")
    return path


class AccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        match = request.resolver_match
        route = ("/" + match.route) if match is not None and match.route else "unmatched"
        request_answered(
            route=route, method=request.method or "", status=response.status_code, seconds=seconds
        )
        logger.info(
            "%s %s %s",
            request.method,
            _logged_path(request),
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "path": _logged_path(request),
                "status": response.status_code,
                "ms": round(seconds * 1000, 2),
                "request_id": response.get("X-Request-Id", ""),
            },
        )
        return response
