"""Issue 14 item 2: log lines are JSON objects carrying the request id, the same id the answer's
X-Request-Id, its problem+json and its audit entries carry; and no secret, token, password or
receipt content reaches any log line."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from licensary.accounts.models import User
from licensary.accounts.services import account_create
from licensary.audit.models import AuditEntry
from licensary.catalog.models import Product
from licensary.core.logging import JsonFormatter, utc_time_text
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, give_credit, verified_agent

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 2026"
RECEIPT = b"\x89PNG\r\n\x1a\n" + b"bank transfer TX-SECRET-CONTENT-4242" * 4


def json_lines(caplog: Any) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_every_request_writes_one_json_access_line_with_its_request_id(
    alice: User, caplog: Any
) -> None:
    api = api_for(alice)
    with caplog.at_level(logging.INFO, logger="licensary.access"):
        answer = api.get("/account", **{"X-Request-Id": "req-alice-1"})

    access = [line for line in json_lines(caplog) if line["logger"] == "licensary.access"]
    assert answer["X-Request-Id"] == "req-alice-1"
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-alice-1"
    assert (line["method"], line["route"], line["path"], line["status"]) == (
        "GET",
        "/api/v1/account",
        "/api/v1/account",
        200,
    )
    assert line["level"] == "info" and line["ms"] >= 0


def test_a_refusal_names_its_request_id_and_so_do_its_audit_entries(
    alice: User, product: Product, staff: User
) -> None:
    api = api_for(alice)
    refused = api.post("/orders", {"product": product.slug, "ip": "not an ip"})
    assert refused.status_code == 422
    assert refused.json_body["request_id"] == refused["X-Request-Id"]

    made = api.post(
        "/orders", {"product": product.slug, "ip": PUBLIC_IP}, **{"X-Request-Id": "req-order-7"}
    )
    assert made.status_code == 201, made.json_body
    entries = AuditEntry.objects.filter(request_id="req-order-7")
    assert entries.exists()


def test_a_500_answer_carries_the_request_id_in_its_problem(settings: Any) -> None:
    unknown = Client().get("/api/v1/no-such-path", HTTP_X_REQUEST_ID="req-404")
    assert unknown.json()["request_id"] == "req-404"


def test_no_password_token_secret_or_receipt_content_reaches_a_log_line(
    caplog: Any, staff: User, product: Product
) -> None:
    """A full run of the sensitive paths with every logger at DEBUG, every line formatted as
    the deployment writes it; then the log is searched for each secret we handled."""
    secrets: list[str] = [PASSWORD]
    with caplog.at_level(logging.DEBUG):
        dana = account_create(
            actor=None, kind="customer", email="dana@example.test", password=PASSWORD
        )
        browser = Client()
        signed_in = browser.post("/portal/sign-in/", {"username": dana.email, "password": PASSWORD})
        assert signed_in.status_code == 302, signed_in.content[:300]
        failed = Client().post(
            "/portal/sign-in/", {"username": dana.email, "password": PASSWORD + "x"}
        )
        assert failed.status_code == 200
        secrets.append(PASSWORD + "x")

        api = api_for(dana)
        made = api.post("/tokens", {"name": "ci", "scopes": ["read"]})
        assert made.status_code == 201, made.json_body
        secrets.append(made.json_body["token"])
        assert api.get("/account", HTTP_AUTHORIZATION=f"Bearer {made.json_body['token']}")

        order = order_create(actor=dana, product=product, ip=PUBLIC_IP)
        upload = api.client.post(
            f"/api/v1/invoices/{order.invoice_id}/receipts",
            {"file": SimpleUploadedFile("r.png", RECEIPT), "reference": "TX-REF-99"},
            **api.headers,
        )
        assert upload.status_code == 201, upload.content[:300]
        secrets.append("TX-SECRET-CONTENT")

        carol = verified_agent("carol-logs@agents.test", staff)
        give_credit(carol, 1000, staff)
        hook = api_for(carol).post(
            "/webhooks", {"url": "https://93.184.216.34/in", "events": ["invoice.paid"]}
        )
        assert hook.status_code == 201, hook.json_body
        secrets.append(hook.json_body["secret"])
        secrets.append(hook.json_body["secret"].removeprefix("whsec_"))

    text = "\n".join(json.dumps(line) for line in json_lines(caplog)) + caplog.text
    assert len(caplog.records) > 10  # the run did log: requests, sign-ins, mails ...
    for secret in secrets:
        assert secret not in text, f"a log line holds a secret: {secret[:12]}..."


@pytest.mark.parametrize(
    "created", [0.0, 1_796_000_000.0, 1_796_000_000.9999, 1_796_000_059.0015, 1_796_086_399.5]
)
def test_the_time_of_a_json_line_is_iso_8601_utc_to_the_millisecond(created: float) -> None:
    # What datetime's isoformat gives, without making a datetime for every line.
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    assert utc_time_text(created) == expected
