"""RELIABILITY "Access and sessions" (ASVS 3.5.1): a write authenticated by the session cookie
must carry Django's CSRF token, a bearer token needs none; API bodies are `application/json`
(a `text/plain` body is the cross-site "simple request" a form on another page can send).

The attack these tests replay: staff sam is signed in to the console; a page elsewhere posts
`{"amount": 1000000, "note": "gift"}` as text/plain to alice's credit in sam's browser."""

import json
from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.ledger.services import account_credit
from licensary.orders.services import order_create
from tests.api.support import PROBLEM, raw_post, snapshot
from tests.helpers import PUBLIC_IP, api_for, csrf_token_for, signed_in_browser

GIFT = json.dumps({"amount": 1_000_000, "note": "gift"})


def problem(response: Any) -> tuple[int, str]:
    assert response["Content-Type"] == PROBLEM, response.content[:200]
    return response.status_code, response.json()["code"]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_session_write_without_the_csrf_token_is_permission_denied_and_changes_nothing(
    staff: User, alice: User, content_type: str
) -> None:
    browser = signed_in_browser(staff)
    before = snapshot()

    response = browser.post(
        f"/api/v1/accounts/{alice.pk}/credit",
        data=GIFT,
        content_type=content_type,
        HTTP_ORIGIN="https://evil.example",
    )

    assert problem(response) == (403, "permission_denied")
    assert "CSRF" in response.json()["detail"]
    assert snapshot() == before
    assert account_credit(alice).amount == 0


def test_a_session_write_with_a_wrong_csrf_token_is_permission_denied(
    staff: User, alice: User
) -> None:
    browser = signed_in_browser(staff)
    csrf_token_for(browser)

    response = browser.post(
        f"/api/v1/accounts/{alice.pk}/credit",
        data=GIFT,
        content_type="application/json",
        HTTP_X_CSRFTOKEN="x" * 64,
    )

    assert problem(response) == (403, "permission_denied")
    assert account_credit(alice).amount == 0


def test_a_session_write_with_the_csrf_token_works(staff: User, alice: User) -> None:
    browser = signed_in_browser(staff)
    token = csrf_token_for(browser)

    response = browser.post(
        f"/api/v1/accounts/{alice.pk}/credit",
        data=GIFT,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200, response.content
    assert account_credit(alice).amount == 1_000_000


def test_a_session_read_needs_no_csrf_token(staff: User) -> None:
    response = signed_in_browser(staff).get("/api/v1/account")

    assert response.status_code == 200
    assert response.json()["email"] == staff.email


def test_a_bearer_token_needs_no_csrf_token(staff: User, alice: User) -> None:
    api = api_for(staff)
    api.client = Client(enforce_csrf_checks=True)

    response = api.post(f"/accounts/{alice.pk}/credit", {"amount": 500, "note": "goodwill"})

    assert response.status_code == 200, response.json_body
    assert account_credit(alice).amount == 500


def test_without_a_session_or_a_token_a_write_is_still_unauthenticated(alice: User) -> None:
    response = Client(enforce_csrf_checks=True).post(
        f"/api/v1/accounts/{alice.pk}/credit", data=GIFT, content_type="application/json"
    )

    assert problem(response) == (401, "unauthenticated")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
    ],
)
def test_a_json_body_sent_as_another_media_type_is_refused_and_changes_nothing(
    staff: User, alice: User, content_type: str
) -> None:
    api = api_for(staff)
    before = snapshot()

    response = raw_post(api, f"/accounts/{alice.pk}/credit", GIFT, content_type=content_type)

    assert problem(response) == (415, "unsupported_media_type")
    assert "application/json" in response.json_body["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_a_receipt_is_uploaded_only_as_multipart(
    alice: User, product: Product, content_type: str
) -> None:
    invoice = order_create(actor=alice, product=product, ip=PUBLIC_IP).invoice
    api = api_for(alice)
    before = snapshot()

    response = raw_post(
        api, f"/invoices/{invoice.pk}/receipts", '{"reference": "TX-1"}', content_type=content_type
    )

    assert problem(response) == (415, "unsupported_media_type")
    assert "multipart/form-data" in response.json_body["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_a_json_media_type_with_parameters_or_a_json_suffix_is_read(
    staff: User, alice: User, content_type: str
) -> None:
    response = raw_post(
        api_for(staff), f"/accounts/{alice.pk}/credit", GIFT, content_type=content_type
    )

    assert response.status_code == 200, response.json_body
