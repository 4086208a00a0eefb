"""The access line and the request metrics of every answer, timed from the first middleware."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from licensary.core.logging import log_access

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
        log_access(
            method=request.method or "",
            route=route,
            path=_logged_path(request),
            status=response.status_code,
            seconds=seconds,
            request_id=response.get("X-Request-Id", ""),
        )
        return response
