"""Scoped API tokens: a token does what its scopes allow and nothing else; it can expire; a
token can make a token only with scopes it has itself; another account's token is not found."""

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from licensary.accounts.models import ApiToken
from licensary.accounts.scopes import ALL_SCOPES, route_scope
from licensary.accounts.services import token_create
from licensary.billing.models import Invoice
from licensary.orders.models import Order
from tests.helpers import PUBLIC_IP, Api, api_for, csrf_token_for, give_credit, signed_in_browser

pytestmark = pytest.mark.django_db


def api_with(user, *scopes, **kwargs):
    return Api(token_create(user=user, scopes=scopes, **kwargs)[1])


def test_every_route_that_needs_a_token_has_a_scope():
    document = Client().get("/api/openapi.json").json()
    unscoped = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and route_scope(method, path) is None
    ]
    assert unscoped == []


def test_reads_need_read_and_writes_the_scope_of_their_resource():
    assert route_scope("GET", "/api/v1/invoices/{invoice_id}") == "read"
    assert route_scope("POST", "/api/v1/orders") == "orders"
    assert route_scope("POST", "api/v1/licenses/<license_id>/renew") == "orders"
    assert route_scope("POST", "/api/v1/invoices/{invoice_id}/pay-with-credit") == "billing"
    assert route_scope("POST", "/api/v1/accounts/{account_id}/credit") == "billing"
    assert route_scope("POST", "/api/v1/transfers") == "transfers"
    assert route_scope("POST", "/api/v1/webhooks/{webhook_id}/test") == "webhooks"
    assert route_scope("POST", "/api/v1/no-such-resource") is None


def test_a_read_only_token_reads_and_is_refused_an_order_which_is_not_made(alice, product):
    api = api_with(alice, "read")

    listed = api.get("/licenses")
    refused = api.post("/orders", {"product": product.slug, "ip": PUBLIC_IP})

    assert listed.status_code == 200
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")
    assert refused.json_body["required_scope"] == "orders"
    assert Order.objects.count() == 0


def test_an_orders_token_orders_but_cannot_pay(alice, staff, product):
    give_credit(alice, 5000, staff)
    api = api_with(alice, "read", "orders")

    ordered = api.post("/orders", {"product": product.slug, "ip": PUBLIC_IP})
    invoice = ordered.json_body["invoice"]
    paid = api.post(f"/invoices/{invoice}/pay-with-credit")

    assert ordered.status_code == 201, ordered.json_body
    assert (paid.status_code, paid.json_body["required_scope"]) == (403, "billing")
    assert Invoice.objects.get(pk=invoice).status == "unpaid"


def test_a_token_past_its_expiry_is_not_a_token(alice):
    expires = timezone.now() + timedelta(hours=1)
    api = api_with(alice, "read", expires_at=expires)

    before = api.get("/account")
    with time_machine.travel(expires + timedelta(seconds=1)):
        after = api.get("/account")

    assert before.status_code == 200
    assert (after.status_code, after.json_body["code"]) == (401, "unauthenticated")


def test_a_token_made_over_the_api_is_shown_once_and_listed_without_its_text(alice):
    api = api_for(alice)

    made = api.post("/tokens", {"name": "billing robot", "scopes": ["billing", "read"]})
    text = made.json_body["token"]
    Api(text).get("/invoices")
    listed = api.get("/tokens").json_body["items"]

    assert made.status_code == 201
    assert made.json_body["scopes"] == ["read", "billing"]
    mine = next(t for t in listed if t["id"] == made.json_body["id"])
    assert "token" not in mine
    assert mine["name"] == "billing robot"
    assert mine["last_used_at"] is not None
    assert text not in str(listed)


def test_a_token_cannot_make_a_token_with_a_scope_it_lacks(alice):
    api = api_with(alice, "read", "account")

    wider = api.post("/tokens", {"name": "wider", "scopes": ["read", "orders"]})
    narrower = api.post("/tokens", {"name": "narrower", "scopes": ["read"]})

    assert (wider.status_code, wider.json_body["code"]) == (403, "permission_denied")
    assert narrower.status_code == 201
    assert sorted(ApiToken.objects.values_list("name", flat=True)) == ["", "narrower"]


def test_a_token_without_the_account_scope_cannot_make_tokens(alice):
    refused = api_with(alice, "read", "orders").post("/tokens", {"scopes": ["read"]})

    assert (refused.status_code, refused.json_body["required_scope"]) == (403, "account")
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["read", "everything"]},
        {"scopes": []},
        {"scopes": "read"},
        {"scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"},
        {"scopes": ["read"], "name": "x" * 101},
        {"scopes": ["read"], "name": "bad\x00name"},
        {"name": "no scopes"},
    ],
)
def test_a_bad_token_request_is_refused_and_makes_nothing(alice, body):
    refused = api_for(alice).post("/tokens", body)

    assert refused.status_code in (400, 422)
    assert refused.json_body["code"] == "validation_error"
    assert ApiToken.objects.count() == 1


def test_revoking_a_token_over_the_api_ends_it(alice):
    api = api_for(alice)
    made = api.post("/tokens", {"scopes": ["read"]}).json_body

    revoked = api.post(f"/tokens/{made['id']}/revoke")
    again = api.post(f"/tokens/{made['id']}/revoke")

    assert revoked.status_code == 200
    assert revoked.json_body["revoked_at"] is not None
    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")
    assert Api(made["token"]).get("/account").status_code == 401


def test_another_accounts_token_is_not_found(alice, bob, staff):
    bobs = api_for(bob).post("/tokens", {"scopes": ["read"]}).json_body

    for caller in (alice, staff):
        api = api_for(caller)
        assert api.get(f"/tokens/{bobs['id']}").json_body["code"] == "not_found"
        assert api.post(f"/tokens/{bobs['id']}/revoke").json_body["code"] == "not_found"
    assert ApiToken.objects.get(pk=bobs["id"]).revoked_at is None


def test_a_signed_in_browser_has_every_scope_and_may_grant_them_all(alice):
    browser = signed_in_browser(alice)

    made = browser.post(
        "/api/v1/tokens",
        data=json.dumps({"scopes": list(ALL_SCOPES)}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf_token_for(browser),
    )

    assert made.status_code == 201, made.content
    assert made.json()["scopes"] == list(ALL_SCOPES)


def test_the_command_makes_a_token_with_the_scopes_named(alice):
    out = StringIO()

    call_command("token", "create", alice.email, "--scope", "read", "--scope", "orders", stdout=out)

    token = ApiToken.objects.get()
    assert token.scopes == ["read", "orders"]
    assert out.getvalue().strip().startswith("lic_")


def test_a_token_made_by_the_command_without_scopes_has_them_all(alice):
    call_command("token", "create", alice.email, stdout=StringIO())

    assert ApiToken.objects.get().scopes == list(ALL_SCOPES)
