"""Per-request context (request id, client IP) that the audit log records; JSON answers for
everything under /api/; retries of writes that lost a deadlock."""

import contextvars
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from licensary.core.ip import client_ip

request_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "request_context", default=None
)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.META.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
        token = request_context.set({"request_id": request_id[:64], "ip": client_ip(request)})
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-Id"] = request_id[:64]
        return response


def current_request() -> dict[str, str]:
    return request_context.get() or {}


class RetryConflictsMiddleware:
    """Run a write again (at most 3 times) when a deadlock or serialization failure rolled it
    back: each use case is one transaction, so the retry starts from a clean state and the
    client never sees the deadlock (RELIABILITY "Concurrency")."""

    ATTEMPTS = 3

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        for attempt in range(1, self.ATTEMPTS + 1):
            response = self.get_response(request)
            # Only a body Django kept in memory can be read again (not a streamed upload).
            again = getattr(response, "licensary_retry", False) and hasattr(request, "_body")
            if not again or attempt == self.ATTEMPTS:
                return response
            time.sleep(0.05 * attempt)
        return response


class ApiAnswersJsonMiddleware:
    """Every answer under /api/ is JSON (API.md "Conventions"): Django's HTML page for a path
    no route matches, ninja's bare-text 405 and Django's HTML 500 page become problem+json.
    The routes' own answers are JSON already and pass untouched."""

    PREFIX = "/api/"
    PROBLEMS = {
        404: ("not_found", "Not found", "No such path in this API."),
        405: ("method_not_allowed", "Method not allowed", "This path does not take {method}."),
        500: (
            "server_error",
            "Server error",
            "The request failed on our side; nothing is promised about its effect. "
            "Request id {request_id}.",
        ),
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(self.PREFIX) or "json" in response.get("Content-Type", ""):
            return response
        status = response.status_code
        known = self.PROBLEMS.get(500 if status >= 500 else status)
        if known is None:
            return response
        code, title, detail = known
        detail = detail.format(
            method=request.method, request_id=current_request().get("request_id", "unknown")
        )
        answer = JsonResponse(
            {
                "type": f"https://licensary.dev/problems/{code}",
                "title": title,
                "status": status,
                "detail": detail,
                "code": code,
                "request_id": current_request().get("request_id", ""),
            },
            status=status,
            content_type="application/problem+json",
        )
        for header, value in response.items():  # Allow, Vary, X-Request-Id ...
            if header.lower() not in ("content-type", "content-length"):
                answer[header] = value
        return answer
