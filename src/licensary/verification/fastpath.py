"""The verification fast path: `POST /api/v1/verify` and `GET /api/v1/verify/keys` answered by
a small WSGI callable in front of Django's own WSGI handler (`config/wsgi.py`), which gets
every other request unchanged.

Licensed servers phone home far more often than people use the rest of the platform, and on
two cores Django's request machinery (middleware, URL resolution, ninja, the request object)
cost several times the work of the answer itself (PERFORMANCE.md). This path skips that
machinery, not the rules: it calls the same functions as the ninja views (`client_ip_of`,
`verify_throttled`, `verify_license`, `keys_listing_json`, so the same effective status from
`licenses/rules.py`, the same staged keys, the same one query), answers the same problem+json
for the same refusals, and sends the same headers: a request id, and the ones the security,
CSP and clickjacking middleware add, worked out by those middleware themselves once per
process (`_stack_headers`).

Whatever is not the plain case goes to Django, which answers it exactly as before: a body the
schema must refuse (not JSON, the wrong media type, a missing or non-string field, control
characters, too large), a host not allowed, a request to redirect to https, a first signing
key still to make, or an error the fast path did not expect (logged). Refusals are rare, so
their speed does not matter, and they cannot differ.
"""

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from http import HTTPStatus
from io import BytesIO
from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils.log import log_response
from django.utils.module_loading import import_string

from licensary.core.api import is_json_media_type, problem
from licensary.core.errors import DomainError, NotFound, RateLimited
from licensary.core.ip import client_ip_of
from licensary.core.logging import log_access
from licensary.core.middleware import request_context
from licensary.verification.api import THROTTLED
from licensary.verification.keys import keys_listing_json
from licensary.verification.schemas import PRODUCT_MAX, is_plain_text
from licensary.verification.services import verify_license
from licensary.verification.throttle import verify_throttled

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Answer = tuple[int, str, bytes, dict[str, str]]  # status, content type, body, extra headers

VERIFY_PATH = "/api/v1/verify"
KEYS_PATH = "/api/v1/verify/keys"
BODY_MAX = 16 * 1024  # a verify body is under 300 bytes; anything larger Django refuses
# The middleware in settings.MIDDLEWARE that put headers on every answer.
HEADERS_BY = {
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
DEFAULT_DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]  # Django's, when DEBUG


def _no_constants(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")  # as core.api.JsonParser: NaN is refused


@lru_cache(maxsize=32)
def _stack_headers(path: str, secure: bool, status: int) -> tuple[tuple[str, str], ...]:
    """The headers Django's middleware put on an answer of `status` to `path`: made by those
    middleware, on a request and an answer made for the purpose, so that a setting that
    changes them (CSP, HSTS, Referrer-Policy ...) changes them here too."""
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "fastpath.invalid",
            "SERVER_PORT": "443" if secure else "80",
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.input": BytesIO(),
        }
    )
    response = HttpResponse(status=status)
    before = set(response.headers)
    chain = [import_string(m)(lambda r: response) for m in settings.MIDDLEWARE if m in HEADERS_BY]
    for middleware in chain:
        if isinstance(middleware, CSPMiddleware):
            middleware.process_request(request)  # the nonce slot its answer looks at
    for middleware in reversed(chain):
        middleware.process_response(request, response)
    return tuple((k, v) for k, v in response.headers.items() if k not in before)


# Host headers already found allowed (a server is reached by a handful of names); a few
# hundred at most, so that made-up hosts cannot grow it.
_allowed_hosts: dict[str, bool] = {}
_ALLOWED_HOSTS_KEPT = 256
PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _forget_headers(**kwargs: object) -> None:
    _stack_headers.cache_clear()
    _allowed_hosts.clear()


setting_changed.connect(_forget_headers, dispatch_uid="licensary_fastpath_headers")


def _is_secure(environ: Environ) -> bool:
    """`HttpRequest.is_secure()` on a WSGI environ."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return bool(value.split(",", 1)[0].strip() == secure_value)
    return bool(environ.get("wsgi.url_scheme") == "https")


def _host_allowed(environ: Environ) -> bool:
    """`HttpRequest.get_host()` would not refuse it (a missing Host header: Django decides)."""
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        host = environ["HTTP_X_FORWARDED_HOST"]
    else:
        host = environ.get("HTTP_HOST")
        if not host:
            return False
    known = _allowed_hosts.get(host)
    if known is not None:
        return known
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = DEFAULT_DEBUG_HOSTS
    domain, _ = split_domain_port(host)
    verdict = bool(domain) and validate_host(domain, allowed)
    if verdict and len(_allowed_hosts) < _ALLOWED_HOSTS_KEPT:
        _allowed_hosts[host] = verdict
    return verdict


def _body(environ: Environ) -> bytes | None:
    """The request body, left readable for Django again; None when Django should read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= BODY_MAX:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = BytesIO(body)
    return body


def _verify_fields(environ: Environ) -> tuple[str, str] | None:
    """(product, nonce) from a body `VerifyIn` accepts; None for anything it would refuse."""
    if not is_json_media_type(environ.get("CONTENT_TYPE", "").partition(";")[0]):
        return None
    body = _body(environ)
    if body is None or not body.strip():
        return None
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    product, nonce = data.get("product"), data.get("nonce")
    if type(product) is not str or type(nonce) is not str or len(product) > PRODUCT_MAX:
        return None
    if not (is_plain_text(product) and is_plain_text(nonce)):
        return None
    return product, nonce


def _problem(exc: DomainError) -> Answer:
    response = problem(exc.status, exc.code, exc.title, exc.detail, exc.extra)
    return exc.status, response["Content-Type"], response.content, exc.headers


class VerifyFastPath:
    """The WSGI application `licensary serve` runs: the two verification routes here, every
    other request to `django` (Django's `WSGIHandler`) untouched. `verify_only` (`licensary
    serve --verify-only`) answers every other path `404 not_found` instead: a server for
    licensed servers alone, Django still at hand for the requests the fast path hands over."""

    def __init__(self, django: WsgiApp, *, verify_only: bool = False) -> None:
        self.django = django
        self.verify_only = verify_only

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == VERIFY_PATH and method == "POST":
            route: Callable[[Environ], Answer | None] = self.verify
        elif path == KEYS_PATH and method == "GET":
            route = self.keys
        elif self.verify_only and path not in (VERIFY_PATH, KEYS_PATH):
            route = self.elsewhere
        else:
            return self.django(environ, start_response)
        started = time.perf_counter()
        # The shape of the Django path's uuid4().hex, without a system call for its randomness
        # (a request id is a label, not a secret); set for the refusals' problem+json and logs.
        request_id = (environ.get("HTTP_X_REQUEST_ID") or f"{random.getrandbits(128):032x}")[:64]
        context = request_context.set({"request_id": request_id, "ip": ""})
        try:
            answer = route(environ) if self._plain(environ) else None
        except Exception:
            logger.exception("the verification fast path failed on %s; Django answers it", path)
            answer = None
        finally:
            request_context.reset(context)
        if answer is None:
            return self.django(environ, start_response)
        sent = self._send(environ, start_response, path, answer, request_id)
        log_access(
            method=method,
            route=path,
            path=path,
            status=answer[0],
            seconds=time.perf_counter() - started,
            request_id=request_id,
        )
        return sent

    def _plain(self, environ: Environ) -> bool:
        """Neither Django's host check nor its https redirect would step in."""
        if settings.SECURE_SSL_REDIRECT and not _is_secure(environ):
            return False
        return _host_allowed(environ)

    def verify(self, environ: Environ) -> Answer | None:
        fields = _verify_fields(environ)
        if fields is None:
            return None  # the schema's refusal, by Django
        product, nonce = fields
        ip = client_ip_of(environ)
        try:
            if verify_throttled(ip):
                raise RateLimited(THROTTLED)
            answer = verify_license(product=product, nonce=nonce, ip=ip)
        except DomainError as exc:
            return _problem(exc)
        return 200, "application/json", json.dumps(answer).encode(), {}

    def keys(self, environ: Environ) -> Answer | None:
        return 200, "application/json", keys_listing_json(), {}

    def elsewhere(self, environ: Environ) -> Answer | None:
        return _problem(NotFound("This server answers only the verification routes."))

    def _send(
        self,
        environ: Environ,
        start_response: StartResponse,
        path: str,
        answer: Answer,
        request_id: str,
    ) -> Iterable[bytes]:
        status, content_type, body, extra = answer
        headers = [
            ("Content-Type", content_type),
            *extra.items(),
            ("X-Request-Id", request_id),
            ("Content-Length", str(len(body))),
            *_stack_headers(path, _is_secure(environ), status),
        ]
        phrase = PHRASES[status]
        if status >= 400:  # as Django's handler logs every refusal
            log_response("%s: %s", phrase, path, response=HttpResponse(status=status))
        start_response(f"{status} {phrase}", headers)
        return [body]
