"""Shared API pieces: authentication, problem+json errors, cursor pagination, money."""

import base64
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from licensary.core.db import is_retryable
from licensary.core.errors import DomainError, NotFound, ValidationFailed
from licensary.core.money import Money

T = TypeVar("T")


class MoneyOut(Schema):
    amount: int
    currency: str


def money(amount: int, currency: str) -> dict[str, Any]:
    return Money(amount, currency).as_dict()


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    code: str


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None


class JsonParser(Parser):
    """An empty body is an empty object: optional bodies (retry, approve) may be left out,
    and a required field missing from it is the usual 422."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        data = super().parse_body(request)
        if not isinstance(data, dict):
            # ninja would read `[1, 2]` as an empty object and run the action with defaults.
            raise ValueError("the body must be a JSON object")
        return data


class BearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from licensary.accounts.services import token_authenticate

        return token_authenticate(token)


def session_auth(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        return user
    return None


AUTH = [BearerAuth(), session_auth]


def problem(status: int, code: str, title: str, detail: str,
            extra: dict[str, Any] | None = None) -> HttpResponse:
    body = {"type": f"https://licensary.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **(extra or {})}
    return JsonResponse(body, status=status, content_type="application/problem+json")


def install_error_handlers(api: Any) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.extra)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors
        )
        return problem(422, "validation_error", "Validation failed", details,
                       {"errors": exc.errors})

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(401, "unauthenticated", "Authentication required",
                       "Send 'Authorization: Bearer <token>'.")

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(404, "not_found", "Not found", str(exc) or "No such object.")

    @api.exception_handler(OperationalError)
    def database_conflict(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if not is_retryable(exc):
            raise exc
        # RetryConflictsMiddleware runs the request again; this answer is the last resort.
        response = problem(503, "conflict_retry", "Busy, try again",
                           "Another change to the same objects won; nothing was changed.")
        response["Retry-After"] = "1"
        response.licensary_retry = True  # type: ignore[attr-defined]
        return response

    @api.exception_handler(MultiPartParserError)
    def bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        return problem(400, "validation_error", "Unreadable form", f"The multipart body cannot "
                       f"be read: {exc}")

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem(413, "request_too_large", "Request too large", str(exc))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "validation_error", 401: "unauthenticated", 403: "permission_denied",
                 404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}
        return problem(exc.status_code, codes.get(exc.status_code, "error"), "Error", str(exc))


def parse_id(raw: object) -> int:
    """Ids are strings in the API; anything not a positive integer is simply not found."""
    try:
        value = int(str(raw))
    except ValueError:
        raise NotFound("No such object.") from None
    if value <= 0 or value > 2**62:
        raise NotFound("No such object.")
    return value


def get_visible(qs: QuerySet, pk: object) -> Any:
    obj = qs.filter(pk=parse_id(pk)).first()
    if obj is None:
        raise NotFound("No such object.")
    return obj


def with_status(qs: QuerySet, status: str | None) -> QuerySet:
    """`qs` narrowed to `?status=`, which must be one of the model's statuses."""
    if not status:
        return qs
    allowed = [value for value, _ in qs.model._meta.get_field("status").choices]
    if status not in allowed:
        raise ValidationFailed(f"status is one of {', '.join(allowed)}.")
    return qs.filter(status=status)


def paginate(qs: QuerySet, *, limit: int, cursor: str | None,
             render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Keyset pagination on descending id: stable while rows are added."""
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit must be between 1 and 200.")
    qs = qs.order_by("-pk")
    if cursor:
        try:
            text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        except (ValueError, UnicodeDecodeError):
            text = ""
        # Only the positive ids this API hands out; "-5", "0" or " 7" are not cursors.
        if not (text.isascii() and text.isdigit() and 0 < int(text) <= 2**63 - 1):
            raise ValidationFailed("cursor is not one this API gave out.")
        last = int(text)
        qs = qs.filter(pk__lt=last)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (base64.urlsafe_b64encode(str(rows[-1].pk).encode()).decode().rstrip("=")
                   if more else None)
    return {"items": [render(row) for row in rows], "next_cursor": next_cursor}
