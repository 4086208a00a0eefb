"""The verification fast path answers exactly what Django's view answers: the same status, the
same bytes (the clock stopped, Ed25519 signatures being deterministic) and the same headers,
for every kind of license and every kind of bad input; it answers the plain cases itself and
hands the refusals of the schema to Django."""

import json
import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
import time_machine
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.utils import timezone

from licensary.config.wsgi import django_application
from licensary.core.logging import JsonFormatter
from licensary.core.metrics import REQUESTS
from licensary.licenses.models import License
from licensary.licenses.rules import renewable_until_after_block
from licensary.licenses.sweep import sweep
from licensary.verification.fastpath import VerifyFastPath
from licensary.verification.keys import keys_rotate
from licensary.verification.throttle import throttle_clear
from tests.helpers import OTHER_IP, PUBLIC_IP
from tests.verification.test_verify_endpoint import NONCE, licensed

REQUEST_ID = "req-fast-path-0001"


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status.split()[0])
        self.status_line = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def comparable(self) -> tuple[str, dict[str, str], bytes]:
        return self.status_line, self.headers, self.body


class Spy:
    """Django's WSGI handler, counting the requests the fast path hands to it."""

    def __init__(self, django: Any = django_application) -> None:
        self.calls = 0
        self.django = django

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.django(environ, start_response)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # Django's handler closes "old" connections at each request's start and end, which would
    # close the test's transaction; Django's own test client unhooks it the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
def fast(spy: Spy) -> VerifyFastPath:
    return VerifyFastPath(spy)


def call(
    app: Any,
    method: str = "POST",
    path: str = "/api/v1/verify",
    body: bytes | None = None,
    content_type: str = "application/json",
    ip: str = PUBLIC_IP,
    **headers: str,
) -> Answer:
    if body is None:
        body = (
            json.dumps({"product": "panel", "nonce": NONCE}).encode() if method == "POST" else b""
        )
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_X_REQUEST_ID": REQUEST_ID,
        "REMOTE_ADDR": ip,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen.update(status=status, headers=headers)

    chunks = app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return Answer(seen["status"], seen["headers"], content)


def both(fast: VerifyFastPath, django: Any = None, **request: Any) -> tuple[Answer, Answer]:
    """The same request to the fast path and to Django alone, at one frozen instant."""
    with time_machine.travel(timezone.now(), tick=False):
        mine = call(fast, **request)
        theirs = call(django or django_application, **request)
    return mine, theirs


def assert_identical(
    fast: VerifyFastPath, spy: Spy, *, handed_over: bool, django: Any = None, **request: Any
) -> Answer:
    mine, django = both(fast, django, **request)
    assert mine.comparable() == django.comparable()
    assert spy.calls == (1 if handed_over else 0)
    return mine


def document(answer: Answer) -> dict[str, Any]:
    return json.loads(answer.json()["document"])


def test_fast_path_answers_an_active_license_as_the_view_does(alice, product, staff, fast, spy):
    lic = licensed(alice, product, staff)

    answer = assert_identical(fast, spy, handed_over=False)

    assert answer.status == 200
    assert (document(answer)["license"], document(answer)["status"]) == (str(lic.pk), "active")
    assert answer.headers["X-Request-Id"] == REQUEST_ID
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'") or (
        "default-src 'self'" in answer.headers["Content-Security-Policy"]
    )
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    ("after", "status"),
    [
        (timedelta(seconds=1), "blocked"),
        (timedelta(days=8), "canceled"),
    ],
)
def test_fast_path_answers_blocked_and_canceled_before_the_sweep_as_the_view_does(
    alice, product, staff, fast, spy, after, status
):
    lic = licensed(alice, product, staff)
    with time_machine.travel(lic.period_end + after, tick=False):
        answer = assert_identical(fast, spy, handed_over=False)
    assert document(answer)["status"] == status


def test_fast_path_answers_a_deleted_license_as_the_view_does(alice, product, staff, fast, spy):
    lic = licensed(alice, product, staff)
    deleted_from = renewable_until_after_block(lic.period_end) + timedelta(seconds=1)
    with time_machine.travel(deleted_from, tick=False):
        before_sweep = assert_identical(fast, spy, handed_over=False)
        sweep()
        assert License.objects.get(pk=lic.pk).status == "deleted"
        after_sweep = assert_identical(fast, spy, handed_over=False)
    assert (document(before_sweep)["status"], document(before_sweep)["license"]) == (
        "deleted",
        None,
    )
    assert document(after_sweep)["status"] == "unknown"  # the slot is free: no live license


def test_fast_path_answers_no_license_and_an_unknown_product_as_the_view_does(product, fast, spy):
    unknown = assert_identical(fast, spy, handed_over=False, ip=OTHER_IP)
    assert document(unknown)["status"] == "unknown"
    missing = assert_identical(
        fast,
        spy,
        handed_over=False,
        body=json.dumps({"product": "nope", "nonce": NONCE}).encode(),
    )
    assert (missing.status, missing.headers["Content-Type"]) == (404, "application/problem+json")
    assert missing.json()["code"] == "not_found"


def test_fast_path_answers_a_short_nonce_as_the_view_does(product, fast, spy):
    answer = assert_identical(
        fast, spy, handed_over=False, body=b'{"product": "panel", "nonce": "short"}'
    )
    assert (answer.status, answer.json()["code"]) == (422, "invalid_nonce")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"product": "panel", "nonce": ', "application/json", 400, "validation_error"),
        (b'{"product": "panel", "nonce": NaN}', "application/json", 400, "validation_error"),
        (b"[1, 2]", "application/json", 400, "validation_error"),
        (b"", "application/json", 422, "validation_error"),
        (b'{"product": "panel"}', "application/json", 422, "validation_error"),
        (b'{"nonce": "nnnnnnnnnnnnnnnnnnnn"}', "application/json", 422, "validation_error"),
        (b'{"product": 7, "nonce": "nnnnnnnnnnnnnnnnnnnn"}', "application/json", 422, None),
        (
            b'{"product": "pa\\u0000nel", "nonce": "nnnnnnnnnnnnnnnnnnnn"}',
            "application/json",
            422,
            None,
        ),
        (
            b'{"product": "panel", "nonce": "nnnnnnnnnnnnnnnnn\\ud800"}',
            "application/json",
            422,
            None,
        ),
        (b'{"product": "panel", "nonce": "nnnnnnnnnnnnnnnnnnnn"}', "text/plain", 415, None),
        (
            b"product=panel&nonce=nnnnnnnnnnnnnnnnnnnn",
            "application/x-www-form-urlencoded",
            415,
            None,
        ),
    ],
)
def test_fast_path_hands_bad_input_to_the_view_and_answers_what_it_answers(
    product, fast, spy, body, content_type, status, code
):
    answer = assert_identical(fast, spy, handed_over=True, body=body, content_type=content_type)
    assert (answer.status, answer.headers["Content-Type"]) == (status, "application/problem+json")
    assert answer.json()["code"] == (code or answer.json()["code"])


def test_fast_path_hands_an_oversized_body_to_the_view_which_refuses_it(product, fast, spy):
    body = json.dumps({"product": "panel", "nonce": "n" * 3_000_000}).encode()
    answer = assert_identical(fast, spy, handed_over=True, body=body)
    assert (answer.status, answer.json()["code"]) == (413, "request_too_large")


def test_fast_path_ignores_forwarding_from_an_untrusted_peer_as_the_view_does(
    alice, product, staff, fast, spy
):
    licensed(alice, product, staff)
    answer = assert_identical(
        fast, spy, handed_over=False, ip=OTHER_IP, HTTP_X_FORWARDED_FOR=PUBLIC_IP
    )
    assert (document(answer)["ip"], document(answer)["status"]) == (OTHER_IP, "unknown")


def test_fast_path_believes_a_trusted_proxy_as_the_view_does(
    alice, product, staff, fast, spy, settings
):
    licensed(alice, product, staff)
    settings.LICENSARY = {**settings.LICENSARY, "TRUSTED_PROXIES": ["10.0.0.5"]}
    answer = assert_identical(
        fast, spy, handed_over=False, ip="10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {PUBLIC_IP}"
    )
    assert (document(answer)["ip"], document(answer)["status"]) == (PUBLIC_IP, "active")


def test_fast_path_throttles_an_ipv6_client_by_its_64_as_the_view_does(
    product, fast, spy, settings
):
    settings.LICENSARY = {**settings.LICENSARY, "VERIFY_RATE": "3/m"}
    alice_a, alice_b, bob = "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:3::1"
    order = [alice_a, alice_b, alice_a, alice_b, alice_a, bob]

    with time_machine.travel(timezone.now(), tick=False):
        mine = [call(fast, ip=ip) for ip in order]
        throttle_clear()
        django = [call(django_application, ip=ip) for ip in order]

    assert [a.status for a in mine] == [200, 200, 200, 429, 429, 200]
    assert [a.comparable() for a in mine] == [a.comparable() for a in django]
    assert mine[3].json()["code"] == "rate_limited"
    assert mine[3].headers["Content-Type"] == "application/problem+json"
    assert spy.calls == 0


def test_fast_path_lists_and_signs_with_staged_keys_as_the_view_does(
    alice, product, staff, fast, spy
):
    licensed(alice, product, staff)
    old = call(fast).json()["key_id"]
    new = keys_rotate()
    listing = assert_identical(
        fast, spy, handed_over=False, method="GET", path="/api/v1/verify/keys"
    )
    assert {k["key_id"]: k["status"] for k in listing.json()["keys"]} == {
        old: "active",
        new.key_id: "next",
    }
    assert call(fast).json()["key_id"] == old  # a next key does not sign yet
    with time_machine.travel(new.activates_at + timedelta(seconds=1), tick=False):
        listing = assert_identical(
            fast, spy, handed_over=False, method="GET", path="/api/v1/verify/keys"
        )
        assert {k["key_id"]: k["status"] for k in listing.json()["keys"]} == {
            old: "retiring",
            new.key_id: "active",
        }
        answer = assert_identical(fast, spy, handed_over=False)
    assert answer.json()["key_id"] == new.key_id


def test_fast_path_sends_hsts_over_https_as_the_view_does(product, fast, spy, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    django = WSGIHandler()  # its middleware read the setting when made
    answer = assert_identical(
        fast, spy, handed_over=False, django=django, **{"wsgi.url_scheme": "https"}
    )
    assert answer.headers["Strict-Transport-Security"] == "max-age=3600"
    plain = call(fast)
    assert "Strict-Transport-Security" not in plain.headers


def test_fast_path_hands_a_host_not_allowed_and_an_https_redirect_to_the_view(
    product, fast, spy, settings
):
    refused = call(fast, HTTP_HOST="evil.example")
    assert refused.status == 400
    assert spy.calls == 1
    settings.SECURE_SSL_REDIRECT = True
    spy = Spy(WSGIHandler())  # its middleware read the setting when made
    redirected = call(VerifyFastPath(spy))
    assert (redirected.status, redirected.headers["Location"]) == (
        301,
        "https://testserver/api/v1/verify",
    )
    assert spy.calls == 1


def test_fast_path_makes_a_request_id_when_the_caller_sends_none(product, fast):
    answer = call(fast, HTTP_X_REQUEST_ID="")
    assert len(answer.headers["X-Request-Id"]) == 32
    assert (
        answer.headers["X-Request-Id"] != call(fast, HTTP_X_REQUEST_ID="").headers["X-Request-Id"]
    )


def test_fast_path_hands_every_other_request_to_django_unchanged(alice, product, fast, spy):
    for method, path in [
        ("GET", "/api/v1/account"),
        ("GET", "/api/v1/verify"),
        ("POST", "/api/v1/verify/"),
        ("GET", "/portal/sign-in/"),
    ]:
        mine, django = both(fast, method=method, path=path, body=b"")
        assert mine.status == django.status, path
        assert mine.body == django.body or path.startswith("/portal/"), path
    assert spy.calls == 4


def test_verify_only_answers_the_verification_routes_and_not_found_for_the_rest(
    alice, product, staff
):
    licensed(alice, product, staff)
    spy = Spy()
    alone = VerifyFastPath(spy, verify_only=True)

    assert document(call(alone))["status"] == "active"
    assert call(alone, method="GET", path="/api/v1/verify/keys").status == 200
    account = call(alone, method="GET", path="/api/v1/account")
    portal = call(alone, method="GET", path="/portal/")
    assert (account.status, account.json()["code"]) == (404, "not_found")
    assert (portal.status, portal.headers["Content-Type"]) == (404, "application/problem+json")
    assert spy.calls == 0


def test_fast_path_writes_the_access_line_and_counts_the_answer(
    alice, product, staff, fast, spy, caplog
):
    licensed(alice, product, staff)
    before = REQUESTS.labels(route="/api/v1/verify", method="POST", status="200")._value.get()

    with caplog.at_level(logging.INFO, logger="licensary.access"):
        answer = call(fast)

    assert (answer.status, spy.calls) == (200, 0)
    lines = [r for r in caplog.records if r.name == "licensary.access"]
    assert len(lines) == 1
    line = json.loads(JsonFormatter().format(lines[0]))
    assert (line["route"], line["status"], line["request_id"]) == (
        "/api/v1/verify",
        200,
        REQUEST_ID,
    )
    after = REQUESTS.labels(route="/api/v1/verify", method="POST", status="200")._value.get()
    assert after == before + 1


def test_a_fast_path_refusal_carries_the_request_id_in_its_problem(fast, spy, db):
    answer = call(fast, body=json.dumps({"product": "no-such", "nonce": NONCE}).encode())

    assert (answer.status, spy.calls) == (404, 0)
    assert answer.json()["request_id"] == REQUEST_ID
