"""Shared API pieces: problem+json errors, cursor pagination, money (authentication is
accounts' own: `accounts/auth.py`)."""

import base64
import functools
import json
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.db.models import DateTimeField, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from pydantic import Field

from licensary.core.db import is_retryable
from licensary.core.errors import (
    DomainError,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from licensary.core.middleware import current_request
from licensary.core.money import Money
from licensary.core.text import Printable

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
    request_id: str | None = Field(
        None, description="The request's id, as in its X-Request-Id header, logs and audit entries."
    )


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None


# The query of every list: `?limit=50&cursor=...`.
Limit = Annotated[int, Field(ge=1, le=200, description="Rows per page.")]
Cursor = Annotated[str, Printable(200)]
# A `?status=` filter; `with_status` checks it against the model's statuses.
StatusFilter = Annotated[str, Printable(32)]


def is_json_media_type(content_type: str) -> bool:
    """`application/json`, or a JSON-based type such as `application/merge-patch+json`."""
    kind, _, subtype = content_type.strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


class JsonParser(Parser):
    """Request bodies are `application/json` objects. Any other media type is refused: a
    `text/plain` or form body is what a page on another site can make a browser send.

    An empty body is an empty object: optional bodies (retry, approve) may be left out, and a
    required field missing from it is the usual 422. ninja turns anything raised here into a
    bare 400; the handler of `HttpError` answers with the `DomainError` it was raised from."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        if not is_json_media_type(request.content_type or ""):
            raise UnsupportedMediaType(
                f"The body must be application/json, not {request.content_type or 'unnamed'}."
            )
        try:
            data = json.loads(request.body, parse_constant=_not_json)
        except ValueError as exc:
            raise ValidationFailed(f"The body is not JSON: {exc}.", status=400) from None
        if not isinstance(data, dict):
            # ninja would read `[1, 2]` as an empty object and run the action with defaults.
            raise ValidationFailed("The body must be a JSON object.", status=400)
        return data


def problem(
    status: int, code: str, title: str, detail: str, extra: dict[str, Any] | None = None
) -> HttpResponse:
    body = {
        "type": f"https://licensary.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    request_id = current_request().get("request_id")
    if request_id:
        body["request_id"] = request_id
    return JsonResponse(body, status=status, content_type="application/problem+json")


def _problem_answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


PROBLEM_ANSWERS = {
    "4XX": _problem_answer(
        "Refused, changing nothing: problem+json with a stable `code` "
        "(validation_error, unauthenticated, permission_denied, not_found, "
        "unsupported_media_type, ... as API.md names them)."
    ),
    "5XX": _problem_answer(
        "Not done on our side: 502/503 gateway_unavailable, 503 "
        "conflict_retry (with Retry-After), 500 server_error."
    ),
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the refusals every operation can answer: problem+json."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status, answer in PROBLEM_ANSWERS.items():
                operation["responses"].setdefault(status, answer)
    return schema


def install_error_handlers(api: Any) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        response = problem(exc.status, exc.code, exc.title, exc.detail, exc.extra)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors
        )
        return problem(
            422, "validation_error", "Validation failed", details, {"errors": exc.errors}
        )

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem(
            401,
            "unauthenticated",
            "Authentication required",
            "Send 'Authorization: Bearer <token>'.",
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(404, "not_found", "Not found", str(exc) or "No such object.")

    @api.exception_handler(OperationalError)
    def database_conflict(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if not is_retryable(exc):
            raise exc
        # RetryConflictsMiddleware runs the request again; this answer is the last resort.
        response = problem(
            503,
            "conflict_retry",
            "Busy, try again",
            "Another change to the same objects won; nothing was changed.",
        )
        response["Retry-After"] = "1"
        response.licensary_retry = True  # type: ignore[attr-defined]
        return response

    @api.exception_handler(MultiPartParserError)
    def bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        return problem(
            400, "validation_error", "Unreadable form", f"The multipart body cannot be read: {exc}"
        )

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem(413, "request_too_large", "Request too large", str(exc))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, DomainError):  # refused by JsonParser
            return domain_error(request, exc.__cause__)
        codes = {
            400: "validation_error",
            401: "unauthenticated",
            403: "permission_denied",
            404: "not_found",
            405: "method_not_allowed",
            429: "rate_limited",
        }
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


def paginate(
    qs: QuerySet,
    *,
    limit: int,
    cursor: str | None,
    render: Callable[[Any], dict[str, Any]],
    order: tuple[str, ...] = ("-pk",),
) -> dict[str, Any]:
    """Keyset pagination in `order` ("field" ascending, "-field" descending; the primary key
    last, which makes the order total): stable while rows are added. The cursor carries the
    keys of the last row shown, and the next page starts strictly after them."""
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit must be between 1 and 200.")
    keys = [(name.removeprefix("-"), name.startswith("-")) for name in order]
    assert keys[-1][0] == "pk", "the primary key breaks ties"
    qs = qs.order_by(*order)
    if cursor:
        qs = qs.filter(_after(_cursor_values(cursor, qs.model, keys), keys))
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _cursor_of(rows[-1], keys) if more else None
    return {"items": [render(row) for row in rows], "next_cursor": next_cursor}


def _after(values: list[Any], keys: list[tuple[str, bool]]) -> Q:
    """Rows past `values` in the order of `keys`: (a > x) or (a = x and b > y) or ..."""
    steps = []
    for i, (name, descending) in enumerate(keys):
        step = Q(**{f"{name}__{'lt' if descending else 'gt'}": values[i]})
        for (earlier, _), value in zip(keys[:i], values[:i], strict=True):
            step &= Q(**{earlier: value})
        steps.append(step)
    return functools.reduce(operator.or_, steps)


def _cursor_of(row: Any, keys: list[tuple[str, bool]]) -> str:
    values = [getattr(row, name) for name, _ in keys]
    if len(values) == 1:  # the common descending-id cursor stays the id's digits
        text = str(values[0])
    else:
        text = json.dumps(
            [v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":")
        )
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor_values(cursor: str, model: Any, keys: list[tuple[str, bool]]) -> list[Any]:
    """The keys a cursor of ours carries, each checked against its field; anything else is
    `validation_error` before it reaches the database."""
    refused = ValidationFailed("cursor is not one this API gave out.")
    try:
        text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        raw = [text] if len(keys) == 1 else json.loads(text)
    except ValueError:
        raise refused from None
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise refused
    values: list[int | datetime | str] = []
    for (name, _), value in zip(keys, raw, strict=True):
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        if name == "pk":
            # Only the positive ids this API hands out; "-5", "0" or " 7" are not cursors.
            text = str(value)
            if not (text.isascii() and text.isdigit() and 0 < int(text) <= 2**63 - 1):
                raise refused
            values.append(int(text))
        elif isinstance(field, DateTimeField) and isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise refused from None
            if moment.tzinfo is None:
                raise refused
            values.append(moment)
        elif (
            isinstance(value, str) and len(value) <= (field.max_length or 0) and value.isprintable()
        ):
            values.append(value)
        else:
            raise refused
    return values
