"""Every endpoint in the OpenAPI document refuses bad input with a problem+json body carrying a
stable `code`, and a refused request changes nothing (rows, statuses, balances, audit entries).

The endpoints are read from `/api/openapi.json`, so a new endpoint without cases here fails
`test_every_endpoint_in_the_openapi_document_has_bad_input_cases`. Besides the cases written
per endpoint, each endpoint gets the ones its schema implies: no / made-up / revoked token,
ids that are not ids, `limit` out of range and bad cursors, malformed JSON, each required field
missing and each field of the wrong type. A control request (the endpoint's good request) must
succeed, so every refusal below is caused by the one thing that is wrong with it.
"""

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import User
from licensary.accounts.services import terms_publish, token_create
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.catalog.models import Product
from licensary.catalog.services import agent_tier_create, product_create, wholesale_price_set
from licensary.governance.claims import claim_open
from licensary.governance.transfers import transfer_request
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.notifications.services import endpoint_create, endpoint_test, endpoint_update
from licensary.support.services import ticket_message_add, ticket_open
from tests.api.support import (
    PROBLEM,
    delivered_order,
    held_order,
    raw_post,
    revoked_api,
    snapshot,
    unpaid_order,
)
from tests.helpers import OTHER_IP, PUBLIC_IP, Api, api_for, give_credit, make_account
from tests.payments.fake_stripe import FakeStripe

PREFIX = "/api/v1"
UNPAID_IP = "93.184.216.40"
HELD_IP = "93.184.216.41"
BOB_UNPAID_IP = "93.184.216.42"
NEW_IP = "93.184.216.50"
NONCE = "n" * 16
BAD_IDS = ["abc", "0", "-1", "1.5", "1e3", "99999999999999999999999", "987654"]


@dataclass
class Case:
    """One bad request and the refusal it must get."""

    label: str
    status: int
    code: str
    actor: str | None = None  # None: the endpoint's actor
    path: str | None = None  # None: the endpoint's path
    body: Any = None  # None: the endpoint's body
    raw: str | None = None  # a body sent byte for byte instead of `body`
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    build: "Callable[[World], tuple[str, dict[str, str]]] | None" = None  # raw body, headers


@dataclass
class Endpoint:
    """The good request of one endpoint, and the bad ones written for it."""

    actor: str | None  # None: anonymous
    path: str
    body: Any = None
    cases: list[Case] = field(default_factory=list)
    before: Callable[["World"], None] | None = None  # runs before every case and the control
    control_before: Callable[["World"], None] | None = None
    control_status: int = 200
    control_build: "Callable[[World], tuple[str, dict[str, str]]] | None" = None
    control_context: Callable[[], AbstractContextManager[Any]] = nullcontext


class World:
    """alice holds a license, an unpaid order and a held order; bob an unpaid order and a
    license; the catalog has `panel` and the inactive `retired`; one supplier, `acme`."""

    def __init__(
        self,
        *,
        alice: User,
        bob: User,
        carol: User,
        dave: User,
        staff: User,
        product: Product,
        settings: Any,
    ) -> None:
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_KEY = ""
        self.alice, self.bob, self.carol, self.dave, self.staff = alice, bob, carol, dave, staff
        self.product = product
        self.retired = product_create(
            actor=staff,
            slug="retired",
            name="Retired",
            kind="own",
            price=100,
            currency="USD",
            active=False,
        )
        made = api_for(staff).post(
            "/suppliers",
            {"name": "acme", "base_url": "https://acme.test", "username": "u", "password": "p"},
        )
        assert made.status_code == 201, made.json_body
        self.license_order = delivered_order(alice, product, PUBLIC_IP, staff)
        self.bob_license_order = delivered_order(bob, product, OTHER_IP, staff)
        self.unpaid = unpaid_order(alice, product, UNPAID_IP)
        self.bob_unpaid = unpaid_order(bob, product, BOB_UNPAID_IP)
        self.held = held_order(alice, product, HELD_IP, staff)  # its delivery job is queued
        # alice asks a refund of the held order (nothing is eligible yet); bob one of his
        # license, whose problem staff marked unresolvable (so most of it is eligible).
        self.alice_refund = refund_request(
            invoice=self.held.invoice, reason="changed my mind", actor=alice
        )
        bob_license = License.objects.get(pk=self.bob_license_order.license_id)
        license_mark_unresolvable(license=bob_license, actor=staff, note="cannot be fixed")
        self.bob_refund = refund_request(
            invoice=self.bob_license_order.invoice, reason="it never worked", actor=bob
        )
        assert self.bob_refund.eligible > 0
        self.alice_receipt = receipt_upload(
            invoice=self.unpaid.invoice,
            reference="TX-1",
            file=SimpleUploadedFile("r.png", PNG),
            actor=alice,
        )
        self.bob_receipt = receipt_upload(
            invoice=self.bob_unpaid.invoice,
            reference="TX-2",
            file=SimpleUploadedFile("r.png", PNG + b"bob"),
            actor=bob,
        )  # another transfer: another file
        self.alice_ticket = ticket_open(
            account=alice,
            department="technical",
            subject="It does not start",
            body="The panel fails on boot.",
            license=License.objects.get(pk=self.license_order.license_id),
            actor=alice,
        )
        self.bob_ticket = ticket_open(
            account=bob,
            department="technical",
            subject="Broken",
            body="Mine too.",
            license=bob_license,
            actor=bob,
        )
        self.alice_attachment = ticket_message_add(
            ticket=self.alice_ticket,
            body="A screenshot.",
            files=[SimpleUploadedFile("s.png", PNG)],
            actor=alice,
        ).attachments.get()
        self.bob_attachment = ticket_message_add(
            ticket=self.bob_ticket,
            body="Mine.",
            files=[SimpleUploadedFile("s.png", PNG)],
            actor=bob,
        ).attachments.get()
        self.alice_transfer = transfer_request(
            license=License.objects.get(pk=self.license_order.license_id),
            to_account=bob,
            actor=alice,
        )
        self.bob_claim = claim_open(product=product, ip=PUBLIC_IP, actor=bob)
        identity_submit(account=bob, file=SimpleUploadedFile("id.png", PNG + b"bob"), actor=bob)
        self.alice_token = token_create(user=alice, name="alice's robot", scopes=["read"])[0]
        self.bob_token = token_create(user=bob, name="bob's robot", scopes=["read"])[0]
        # carol's webhook endpoint with a delivery, a disabled one with a delivery, and another
        # agent's (made last: nothing before them is an event of carol's customers anyway).
        self.other_agent = make_account("other-agent@agent.test", kind="agent")
        self.hook = endpoint_create(actor=carol, url=HOOK_URL, events=["invoice.paid"])[0]
        self.delivery = endpoint_test(endpoint=self.hook, actor=carol)
        self.disabled_hook = endpoint_create(actor=carol, url=HOOK_URL, events=["invoice.paid"])[0]
        self.disabled_delivery = endpoint_test(endpoint=self.disabled_hook, actor=carol)
        endpoint_update(endpoint=self.disabled_hook, actor=carol, status="disabled")
        self.other_hook = endpoint_create(
            actor=self.other_agent, url=HOOK_URL, events=["invoice.paid"]
        )[0]
        self.other_delivery = endpoint_test(endpoint=self.other_hook, actor=self.other_agent)
        # Wholesale prices: carol's own for the panel, and a tier with one.
        self.tier = agent_tier_create(actor=staff, name="silver")
        wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=0)
        wholesale_price_set(actor=staff, product=product, tier=self.tier, price=800, setup_fee=0)
        self.apis: dict[str | None, Api] = {
            "alice": api_for(alice),
            "bob": api_for(bob),
            "carol": api_for(carol),
            "staff": api_for(staff),
            None: Api(),
            "made-up token": Api("lic_0000_" + "x" * 43),
            "revoked token": revoked_api(alice),
            "alice read-only": Api(token_create(user=alice, scopes=["read"])[1]),
            "carol read-only": Api(token_create(user=carol, scopes=["read"])[1]),
            "not a bearer": Api(),
        }
        self.apis["not a bearer"].headers = {"HTTP_AUTHORIZATION": "Basic YWxpY2U6cHc="}

    def ids(self) -> dict[str, Any]:
        return {
            "alice": self.alice.pk,
            "bob": self.bob.pk,
            "dave": self.dave.pk,
            "carol": self.carol.pk,
            "panel": self.product.pk,
            "retired": self.retired.pk,
            "license": self.license_order.license_id,
            "bob_license": self.bob_license_order.license_id,
            "license_invoice": self.license_order.invoice_id,
            "license_order": self.license_order.pk,
            "unpaid": self.unpaid.pk,
            "unpaid_invoice": self.unpaid.invoice_id,
            "bob_unpaid": self.bob_unpaid.pk,
            "bob_invoice": self.bob_unpaid.invoice_id,
            "held": self.held.pk,
            "held_invoice": self.held.invoice_id,
            "alice_refund": self.alice_refund.pk,
            "bob_refund": self.bob_refund.pk,
            "alice_receipt": self.alice_receipt.pk,
            "bob_receipt": self.bob_receipt.pk,
            "alice_token": self.alice_token.pk,
            "alice_ticket": self.alice_ticket.pk,
            "alice_transfer": self.alice_transfer.pk,
            "bob_claim": self.bob_claim.pk,
            "bob_ticket": self.bob_ticket.pk,
            "alice_attachment": self.alice_attachment.pk,
            "bob_attachment": self.bob_attachment.pk,
            "bob_token": self.bob_token.pk,
            "hook": self.hook.pk,
            "delivery": self.delivery.pk,
            "disabled_hook": self.disabled_hook.pk,
            "disabled_delivery": self.disabled_delivery.pk,
            "other_hook": self.other_hook.pk,
            "other_delivery": self.other_delivery.pk,
            "tier": self.tier.pk,
        }


def publish_terms_1_and_2(world: World) -> None:
    terms_publish(text="Version one.", actor=world.staff)
    terms_publish(text="Version two.", actor=world.staff)


def publish_terms_1(world: World) -> None:
    terms_publish(text="Version one.", actor=world.staff)


def credit_for_the_unpaid_invoice(world: World) -> None:
    give_credit(world.alice, 1500, world.staff)


WEBHOOK_SECRET = "whsec_test_secret"
HOOK_URL = "https://93.184.216.34/hooks"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BOUNDARY = "receipt-boundary"


def multipart(
    filename: str = "receipt.png",
    content: bytes = PNG,
    reference: str = "TX-3",
    with_file: bool = True,
    fields: dict[str, str] | None = None,
    field: str = "file",
) -> Callable[["World"], tuple[bytes, dict[str, str]]]:
    """An upload as `build` sends it: the raw multipart body and its Content-Type; `fields`
    are the form's text fields (a receipt's `reference` unless named)."""
    form = {"reference": reference} if fields is None else fields

    def build(world: "World") -> tuple[bytes, dict[str, str]]:
        parts = [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in form.items()
        ]
        if with_file:
            parts.append(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
                + content
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
        return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    return build


def stripe_event(
    world: World,
    *,
    amount: int = 1500,
    stamp: int | None = None,
    secret: str = WEBHOOK_SECRET,
    body: str | None = None,
) -> tuple[str, dict[str, str]]:
    """A Stripe `checkout.session.completed` for alice's unpaid invoice, signed as Stripe does."""
    if body is None:
        body = json.dumps(
            {
                "id": "evt_test_1",
                "object": "event",
                "type": "checkout.session.completed",
                "data": {
                    "object": {
                        "id": "cs_test_1",
                        "object": "checkout.session",
                        "payment_status": "paid",
                        "payment_intent": "pi_test_1",
                        "amount_total": amount,
                        "currency": "usd",
                        "metadata": {"invoice": str(world.unpaid.invoice_id)},
                    }
                },
            }
        )
    stamp = int(time.time()) if stamp is None else stamp
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={signature}"}


@contextmanager
def checkout_at_a_fake_stripe() -> Iterator[None]:
    """The real Stripe gateway, talking to the local Stripe API of tests/payments."""
    server = FakeStripe()
    server.thread.start()
    try:
        with override_settings(STRIPE_API_KEY="sk_test_licensary", STRIPE_API_BASE=server.url):
            yield
    finally:
        server.shutdown()
        server.server_close()


def refusals(status: int, code: str, field_name: str, *values: Any) -> list[Case]:
    return [
        Case(f"{field_name}={value!r}", status, code, body={field_name: value}) for value in values
    ]


PRIVATE_OR_NOT_IPS = [
    "not-an-ip",
    "93.184.216",
    "999.1.1.1",
    "",
    "10.0.0.1",
    "192.168.1.10",
    "172.16.5.4",
    "127.0.0.1",
    "::1",
    "fe80::1",
    "fd00::1",
    "0.0.0.0",
    "224.0.0.1",
    "169.254.1.1",
]

ENDPOINTS: dict[str, Endpoint] = {
    "GET /account": Endpoint("alice", "/account"),
    "GET /accounts": Endpoint(
        "staff",
        "/accounts",
        cases=[
            Case("a customer lists accounts", 403, "permission_denied", actor="alice"),
        ],
    ),
    "POST /accounts": Endpoint(
        "staff",
        "/accounts",
        {"kind": "customer", "email": "new@example.test"},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "kind", "wizard", "CUSTOMER", ""),
            *refusals(422, "validation_error", "email", "not-an-email", "", "a@b"),
            Case("an email that is taken", 409, "email_taken", body={"email": "BOB@example.test"}),
            Case("a weak password", 422, "validation_error", body={"password": "password"}),
            Case("an agent that is not one", 404, "not_found", body={"agent": "{alice}"}),
            Case("an agent id that is no id", 404, "not_found", body={"agent": "abc"}),
            Case("a customer creates an account", 403, "permission_denied", actor="alice"),
            Case(
                "an agent creates an agent",
                403,
                "permission_denied",
                actor="carol",
                body={"kind": "agent"},
            ),
        ],
    ),
    "GET /accounts/{account_id}": Endpoint(
        "alice",
        "/accounts/{alice}",
        cases=[
            Case("another customer's account", 404, "not_found", path="/accounts/{bob}"),
            Case(
                "an agent's customer, asked by a stranger",
                404,
                "not_found",
                path="/accounts/{dave}",
            ),
        ],
    ),
    "POST /accounts/{account_id}/credit": Endpoint(
        "staff",
        "/accounts/{alice}/credit",
        {"amount": 500, "note": "goodwill"},
        cases=[
            *refusals(422, "validation_error", "amount", 0, 10.5, "ten", True, None, "500"),
            Case(
                "taking off more credit than there is",
                402,
                "insufficient_credit",
                body={"amount": -100},
            ),
            *refusals(422, "validation_error", "note", "", "   "),
            Case("a customer adjusts credit", 403, "permission_denied", actor="alice"),
            Case(
                "an agent adjusts its customer's credit",
                403,
                "permission_denied",
                actor="carol",
                path="/accounts/{dave}/credit",
            ),
        ],
    ),
    "POST /accounts/{account_id}/ban": Endpoint(
        "staff",
        "/accounts/{alice}/ban",
        {"reason": "sharing", "note": "resold access"},
        cases=[
            *refusals(422, "validation_error", "reason", "", "rude", 5, None),
            *refusals(422, "validation_error", "note", "", "   ", "x" * 301),
            *refusals(422, "validation_error", "cascade", "yes", 1),
            Case("cascade for a customer", 422, "validation_error", body={"cascade": True}),
            Case("a customer bans", 403, "permission_denied", actor="bob"),
            Case(
                "an agent bans its customer",
                403,
                "permission_denied",
                actor="carol",
                path="/accounts/{dave}/ban",
            ),
            Case("no such account", 404, "not_found", path="/accounts/999999/ban"),
        ],
    ),
    "POST /account/white-label": Endpoint(
        "carol",
        "/account/white-label",
        {"name": "Carol Hosting"},
        cases=[
            *refusals(422, "validation_error", "name", "x" * 101, "tab\there", 7, None),
            Case("a customer names its mail", 403, "permission_denied", actor="alice"),
        ],
    ),
    "POST /tokens": Endpoint(
        "alice",
        "/tokens",
        {"name": "robot", "scopes": ["read", "orders"]},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "scopes", [], ["read", "all"], "read", [1], None),
            *refusals(422, "validation_error", "name", "x" * 101, "tab\there", 7),
            *refusals(
                422,
                "validation_error",
                "expires_at",
                "2020-01-01T00:00:00Z",
                "2030-01-01T00:00:00",
                "soon",
            ),
            Case("a read-only token makes a token", 403, "permission_denied", "alice read-only"),
        ],
    ),
    "GET /tokens": Endpoint("alice", "/tokens"),
    "GET /tokens/{token_id}": Endpoint(
        "alice",
        "/tokens/{alice_token}",
        cases=[
            Case("another account's token", 404, "not_found", path="/tokens/{bob_token}"),
            Case("staff read a customer's token", 404, "not_found", actor="staff"),
        ],
    ),
    "POST /tokens/{token_id}/revoke": Endpoint(
        "alice",
        "/tokens/{alice_token}/revoke",
        cases=[
            Case("another account's token", 404, "not_found", path="/tokens/{bob_token}/revoke"),
            Case("staff revoke a customer's token", 404, "not_found", actor="staff"),
            Case("a read-only token revokes", 403, "permission_denied", "alice read-only"),
        ],
    ),
    "POST /tickets": Endpoint(
        "alice",
        "/tickets",
        {"department": "billing", "subject": "A question", "body": "Why this amount?"},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "department", "", "legal", 3, None),
            *refusals(422, "validation_error", "subject", "", "   ", "s" * 201, None),
            *refusals(422, "validation_error", "body", "", "  \n ", "b" * 20_001, None),
            Case("another customer's license", 404, "not_found", body={"license": "{bob_license}"}),
            Case("for another customer", 404, "not_found", body={"account": "{bob}"}),
            Case("for a stranger's customer", 404, "not_found", body={"account": "{dave}"}),
            Case("a read-only token", 403, "permission_denied", "alice read-only"),
        ],
    ),
    "GET /tickets": Endpoint(
        "alice",
        "/tickets",
        cases=[
            Case("an unknown status", 422, "validation_error", query="status=pending"),
            Case("an unknown department", 422, "validation_error", query="department=legal"),
            Case("a customer filters by assignee", 403, "permission_denied", query="assigned=me"),
        ],
    ),
    "GET /tickets/{ticket_id}": Endpoint(
        "alice",
        "/tickets/{alice_ticket}",
        cases=[
            Case("another customer's ticket", 404, "not_found", path="/tickets/{bob_ticket}"),
            Case("a stranger agent", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /tickets/{ticket_id}/messages": Endpoint(
        "alice",
        "/tickets/{alice_ticket}/messages",
        {"body": "Any news?"},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "body", "", "   ", "b" * 20_001),
            *refusals(422, "validation_error", "internal", "yes", 1),
            Case(
                "a customer writes an internal note",
                403,
                "permission_denied",
                body={"internal": True},
            ),
            Case(
                "another customer's ticket",
                404,
                "not_found",
                path="/tickets/{bob_ticket}/messages",
            ),
        ],
    ),
    "POST /tickets/{ticket_id}/messages/upload": Endpoint(
        "alice",
        "/tickets/{alice_ticket}/messages/upload",
        control_build=multipart(content=PNG + b"shot", fields={"body": "Look."}),
        control_status=201,
        cases=[
            Case(
                "no file",
                422,
                "validation_error",
                build=multipart(with_file=False, fields={"body": "Look."}),
            ),
            Case("no body", 422, "validation_error", build=multipart(fields={})),
            Case(
                "a script named .png",
                415,
                "unsupported_file_type",
                build=multipart(content=b"#!/bin/sh\n", fields={"body": "Look."}),
            ),
            Case(
                "a file over 10 MB",
                413,
                "file_too_large",
                build=multipart(content=PNG + b"0" * (10 * 1024 * 1024), fields={"body": "x"}),
            ),
            Case(
                "a customer's internal note",
                403,
                "permission_denied",
                build=multipart(fields={"body": "x", "internal": "true"}),
            ),
            Case(
                "another customer's ticket",
                404,
                "not_found",
                path="/tickets/{bob_ticket}/messages/upload",
                build=multipart(fields={"body": "x"}),
            ),
        ],
    ),
    "GET /tickets/{ticket_id}/attachments/{attachment_id}": Endpoint(
        "alice",
        "/tickets/{alice_ticket}/attachments/{alice_attachment}",
        cases=[
            Case(
                "another ticket's file through own ticket",
                404,
                "not_found",
                path="/tickets/{alice_ticket}/attachments/{bob_attachment}",
            ),
            Case(
                "another customer's ticket",
                404,
                "not_found",
                path="/tickets/{bob_ticket}/attachments/{bob_attachment}",
            ),
        ],
    ),
    "POST /tickets/{ticket_id}/assign": Endpoint(
        "staff",
        "/tickets/{alice_ticket}/assign",
        {"staff": None},
        cases=[
            Case("a customer assigns", 403, "permission_denied", actor="alice"),
            Case("to a customer", 404, "not_found", body={"staff": "{bob}"}),
            Case("another customer's ticket", 404, "not_found", actor="bob"),
        ],
    ),
    "POST /tickets/{ticket_id}/close": Endpoint(
        "alice",
        "/tickets/{alice_ticket}/close",
        cases=[
            Case("another customer's ticket", 404, "not_found", path="/tickets/{bob_ticket}/close"),
            *refusals(422, "validation_error", "note", "n" * 201),
        ],
    ),
    "POST /tickets/{ticket_id}/unresolvable": Endpoint(
        "staff",
        "/tickets/{alice_ticket}/unresolvable",
        {"note": "the kernel cannot run it"},
        cases=[
            Case("the owner marks it", 403, "permission_denied", actor="alice"),
            Case("another customer marks it", 404, "not_found", actor="bob"),
            *refusals(422, "validation_error", "note", "", "  ", "n" * 301),
        ],
    ),
    "GET /accounts/{account_id}/support-evidence": Endpoint(
        "staff",
        "/accounts/{alice}/support-evidence",
        cases=[
            Case("the account itself", 403, "permission_denied", actor="alice"),
            Case(
                "an agent",
                403,
                "permission_denied",
                actor="carol",
                path="/accounts/{dave}/support-evidence",
            ),
            Case("no such account", 404, "not_found", path="/accounts/999999/support-evidence"),
        ],
    ),
    "POST /transfers": Endpoint(
        "bob",
        "/transfers",
        {"license": "{bob_license}", "to_account": "alice@example.test"},
        control_status=201,
        cases=[
            Case("another customer's license", 404, "not_found", body={"license": "{license}"}),
            Case("to nobody", 404, "not_found", body={"to_account": "nobody@example.test"}),
            Case("to staff", 404, "not_found", body={"to_account": "sam@staff.test"}),
            Case("to itself", 422, "validation_error", body={"to_account": "{bob}"}),
            Case(
                "a license with a pending transfer",
                409,
                "transfer_pending",
                actor="alice",
                body={"license": "{license}", "to_account": "{dave}"},
            ),
            *refusals(422, "validation_error", "to_account", "x" * 255, None),
        ],
    ),
    "GET /transfers": Endpoint("alice", "/transfers"),
    "GET /transfers/{transfer_id}": Endpoint(
        "alice",
        "/transfers/{alice_transfer}",
        cases=[Case("a stranger", 404, "not_found", actor="carol")],
    ),
    "POST /transfers/{transfer_id}/accept": Endpoint(
        "bob",
        "/transfers/{alice_transfer}/accept",
        cases=[
            Case("the owner accepts", 403, "permission_denied", actor="alice"),
            Case("a stranger", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /transfers/{transfer_id}/decline": Endpoint(
        "bob",
        "/transfers/{alice_transfer}/decline",
        cases=[
            Case("the owner declines", 403, "permission_denied", actor="alice"),
            Case("a stranger", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /transfers/{transfer_id}/cancel": Endpoint(
        "alice",
        "/transfers/{alice_transfer}/cancel",
        cases=[
            Case("the recipient cancels", 403, "permission_denied", actor="bob"),
            Case("a stranger", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /claims": Endpoint(
        "carol",
        "/claims",
        {"product": "panel", "ip": PUBLIC_IP},
        control_status=201,
        cases=[
            Case("a free IP", 409, "nothing_to_claim", body={"ip": NEW_IP}),
            Case("its own license", 409, "nothing_to_claim", actor="alice"),
            Case("an open claim again", 409, "claim_pending", actor="bob"),
            Case("no such product", 404, "not_found", body={"product": "nope"}),
            Case(
                "for a stranger's customer",
                404,
                "not_found",
                actor="bob",
                body={"account": "{dave}"},
            ),
            *refusals(422, "invalid_ip", "ip", "not-an-ip", "10.0.0.1"),
        ],
    ),
    "GET /claims": Endpoint("bob", "/claims"),
    "GET /claims/{claim_id}": Endpoint(
        "bob",
        "/claims/{bob_claim}",
        cases=[Case("a stranger", 404, "not_found", actor="carol")],
    ),
    "POST /claims/{claim_id}/proof": Endpoint(
        None,
        "/claims/{bob_claim}/proof",
        {"challenge": "x" * 43},
        control_build=lambda w: (
            json.dumps({"challenge": w.bob_claim.challenge}).encode(),
            {"Content-Type": "application/json", "X-Forwarded-For": PUBLIC_IP},
        ),
        control_context=lambda: override_settings(
            LICENSARY={**settings.LICENSARY, "TRUSTED_PROXIES": ["127.0.0.1"]}
        ),
        cases=[
            Case("a wrong challenge", 404, "not_found"),
            Case(
                "from another IP",
                403,
                "proof_wrong_ip",
                build=lambda w: (
                    json.dumps({"challenge": w.bob_claim.challenge}).encode(),
                    {"Content-Type": "application/json"},
                ),
            ),
            Case("no such claim", 404, "not_found", path="/claims/999999/proof"),
        ],
    ),
    "POST /claims/{claim_id}/challenge": Endpoint(
        "bob",
        "/claims/{bob_claim}/challenge",
        cases=[
            Case("the owner renews it", 403, "permission_denied", actor="alice"),
            Case("a stranger", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /claims/{claim_id}/approve": Endpoint(
        "staff",
        "/claims/{bob_claim}/approve",
        control_status=409,  # in the owner's window, not proved: nothing to approve yet
        cases=[
            Case("the claimant approves", 403, "permission_denied", actor="bob"),
            Case("a stranger", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /claims/{claim_id}/reject": Endpoint(
        "staff",
        "/claims/{bob_claim}/reject",
        {"reason": "not their server"},
        cases=[
            Case("the claimant rejects", 403, "permission_denied", actor="bob"),
            *refusals(422, "validation_error", "reason", "", "r" * 201),
        ],
    ),
    "GET /account/history": Endpoint("alice", "/account/history"),
    "GET /accounts/{account_id}/history": Endpoint(
        "staff",
        "/accounts/{alice}/history",
        cases=[
            Case("another customer's", 404, "not_found", actor="bob"),
            Case("a stranger agent", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /identity": Endpoint(
        "alice",
        "/identity",
        control_build=multipart(content=PNG + b"id", fields={}, field="document"),
        control_status=201,
        cases=[
            Case(
                "no document",
                422,
                "validation_error",
                build=multipart(with_file=False, fields={}, field="document"),
            ),
            Case(
                "an executable",
                415,
                "unsupported_file_type",
                build=multipart(content=b"MZ\x90\x00", fields={}, field="document"),
            ),
            Case(
                "a document over 10 MB",
                413,
                "file_too_large",
                build=multipart(
                    content=PNG + b"0" * (10 * 1024 * 1024), fields={}, field="document"
                ),
            ),
        ],
    ),
    "GET /identity": Endpoint("alice", "/identity"),
    "GET /accounts/{account_id}/identity": Endpoint(
        "staff",
        "/accounts/{alice}/identity",
        cases=[Case("another customer's", 404, "not_found", actor="bob")],
    ),
    "GET /accounts/{account_id}/identity/document": Endpoint(
        "staff",
        "/accounts/{bob}/identity/document",
        cases=[
            Case("the owner itself", 403, "permission_denied", actor="bob"),
            Case("no document", 404, "not_found", path="/accounts/{alice}/identity/document"),
            Case("another customer's", 404, "not_found", actor="alice"),
        ],
    ),
    "POST /accounts/{account_id}/identity/verify": Endpoint(
        "staff",
        "/accounts/{bob}/identity/verify",
        cases=[
            Case("the account verifies itself", 403, "permission_denied", actor="bob"),
            Case(
                "nothing waiting",
                409,
                "invalid_transition",
                path="/accounts/{alice}/identity/verify",
            ),
            Case("another customer's", 404, "not_found", actor="alice"),
        ],
    ),
    "POST /accounts/{account_id}/identity/reject": Endpoint(
        "staff",
        "/accounts/{bob}/identity/reject",
        {"reason": "unreadable"},
        cases=[
            Case("the account rejects itself", 403, "permission_denied", actor="bob"),
            *refusals(422, "validation_error", "reason", "", "r" * 301),
        ],
    ),
    "POST /agents/{agent_id}/reports": Endpoint(
        "bob",
        "/agents/{carol}/reports",
        {"reason": "fraud", "details": "Took my money."},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "reason", "", "rude", None),
            *refusals(422, "validation_error", "details", "", "d" * 5001),
            Case("not an agent", 404, "not_found", path="/agents/{alice}/reports"),
        ],
    ),
    "GET /agents/{agent_id}/prices": Endpoint(
        "carol",
        "/agents/{carol}/prices",
        cases=[
            Case("another account's agent", 404, "not_found", actor="alice"),
            Case(
                "a customer is no agent",
                404,
                "not_found",
                actor="staff",
                path="/agents/{dave}/prices",
            ),
        ],
    ),
    "POST /agents/{agent_id}/prices": Endpoint(
        "staff",
        "/agents/{carol}/prices",
        {"product": "panel", "price": 650, "setup_fee": 0},
        cases=[
            *refusals(422, "validation_error", "price", -1, 10.5, "650", True, None),
            *refusals(422, "validation_error", "setup_fee", -1, "0", False),
            *refusals(422, "validation_error", "product", "", "p" * 65),
            Case("no such product", 404, "not_found", body={"product": "nope"}),
            Case("the agent itself", 403, "permission_denied", actor="carol"),
            Case("someone else", 404, "not_found", actor="alice"),
            Case("not an agent", 404, "not_found", path="/agents/{dave}/prices"),
        ],
    ),
    "DELETE /agents/{agent_id}/prices/{product_id}": Endpoint(
        "staff",
        "/agents/{carol}/prices/panel",
        control_status=204,
        cases=[
            Case("the agent itself", 403, "permission_denied", actor="carol"),
            Case("someone else", 404, "not_found", actor="alice"),
            Case("no price there", 404, "not_found", path="/agents/{carol}/prices/retired"),
            Case("no such product", 404, "not_found", path="/agents/{carol}/prices/nope"),
        ],
    ),
    "POST /agents/{agent_id}/tier": Endpoint(
        "staff",
        "/agents/{carol}/tier",
        {"tier": "{tier}"},
        cases=[
            Case("no such tier", 404, "not_found", body={"tier": "987654"}),
            Case("a tier that is no id", 404, "not_found", body={"tier": "gold"}),
            Case("the agent itself", 403, "permission_denied", actor="carol"),
            Case("not an agent", 404, "not_found", path="/agents/{dave}/tier"),
        ],
    ),
    "GET /agents/{agent_id}/statement": Endpoint(
        "carol",
        "/agents/{carol}/statement",
        cases=[
            Case("not a date", 422, "validation_error", query="from=soon"),
            Case("backwards", 422, "validation_error", query="from=2026-03-05&to=2026-03-01"),
            Case("too long", 422, "validation_error", query="from=2000-01-01&to=2026-03-01"),
            Case("another agent's", 404, "not_found", actor="alice"),
            Case("not an agent", 404, "not_found", path="/agents/{dave}/statement"),
        ],
    ),
    "GET /agent-tiers": Endpoint(
        "staff",
        "/agent-tiers",
        cases=[Case("an agent", 403, "permission_denied", actor="carol")],
    ),
    "POST /agent-tiers": Endpoint(
        "staff",
        "/agent-tiers",
        {"name": "gold"},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "name", "", "n" * 101, None, 5),
            Case("a name taken", 409, "name_taken", body={"name": "silver"}),
            Case("an agent", 403, "permission_denied", actor="carol"),
        ],
    ),
    "GET /agent-tiers/{tier_id}/prices": Endpoint(
        "staff",
        "/agent-tiers/{tier}/prices",
        cases=[Case("an agent", 403, "permission_denied", actor="carol")],
    ),
    "POST /agent-tiers/{tier_id}/prices": Endpoint(
        "staff",
        "/agent-tiers/{tier}/prices",
        {"product": "panel", "price": 750},
        cases=[
            *refusals(422, "validation_error", "price", -1, "750", None),
            Case("no such product", 404, "not_found", body={"product": "nope"}),
            Case("an agent", 403, "permission_denied", actor="carol"),
        ],
    ),
    "DELETE /agent-tiers/{tier_id}/prices/{product_id}": Endpoint(
        "staff",
        "/agent-tiers/{tier}/prices/panel",
        control_status=204,
        cases=[
            Case("no price there", 404, "not_found", path="/agent-tiers/{tier}/prices/retired"),
            Case("an agent", 403, "permission_denied", actor="carol"),
        ],
    ),
    "GET /agents/{agent_id}/reports": Endpoint(
        "staff",
        "/agents/{carol}/reports",
        cases=[Case("the agent itself", 403, "permission_denied", actor="carol")],
    ),
    "POST /agents/{agent_id}/warnings": Endpoint(
        "staff",
        "/agents/{carol}/warnings",
        {"reason": "misleading wording"},
        control_status=201,
        cases=[
            Case("a customer warns", 403, "permission_denied", actor="bob"),
            *refusals(422, "validation_error", "reason", "", "r" * 301),
            Case("not an agent", 404, "not_found", path="/agents/{alice}/warnings"),
        ],
    ),
    "GET /agents/{agent_id}/warnings": Endpoint(
        "staff",
        "/agents/{carol}/warnings",
        cases=[Case("the agent itself", 403, "permission_denied", actor="carol")],
    ),
    "GET /agents/{agent_id}/standing": Endpoint(
        "staff",
        "/agents/{carol}/standing",
        cases=[
            Case("the agent itself", 403, "permission_denied", actor="carol"),
            Case("not an agent", 404, "not_found", path="/agents/{alice}/standing"),
        ],
    ),
    "GET /terms": Endpoint(
        None,
        "/terms",
        control_before=publish_terms_1,
        cases=[
            Case("no terms are published yet", 404, "not_found"),
        ],
    ),
    "POST /terms": Endpoint(
        "staff",
        "/terms",
        {"text": "Be excellent."},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "text", "", "  \n "),
            Case("a customer publishes terms", 403, "permission_denied", actor="alice"),
            Case("an agent publishes terms", 403, "permission_denied", actor="carol"),
        ],
    ),
    "POST /terms/accept": Endpoint(
        "alice",
        "/terms/accept",
        {"version": 2},
        before=publish_terms_1_and_2,
        cases=[
            *refusals(409, "terms_outdated", "version", 1, 3, 0, -1),
            *refusals(422, "validation_error", "version", "two", 1.5, "2", True),
        ],
    ),
    "GET /products": Endpoint("alice", "/products"),
    "POST /products": Endpoint(
        "staff",
        "/products",
        {"name": "Mail Pro", "kind": "own", "price": 700},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "price", -1, 1.5, "cheap", True, None),
            *refusals(422, "validation_error", "setup_fee", -5, False),
            *refusals(422, "validation_error", "period_days", 0, -30, "30", 30.0),
            *refusals(422, "validation_error", "kind", "gift", ""),
            *refusals(422, "validation_error", "name", "", "   "),
            *refusals(422, "validation_error", "active", 0, "true", "yes"),
            *refusals(422, "validation_error", "requires_identity", 1, "no"),
            *refusals(422, "validation_error", "suppliers", ["acme"], ["own", "acme"]),
            Case(
                "a manufacturer product without a manufacturer",
                422,
                "validation_error",
                body={"kind": "manufacturer", "suppliers": ["acme"]},
            ),
            Case("a slug that is taken", 409, "slug_taken", body={"slug": "panel"}),
            Case("a customer adds a product", 403, "permission_denied", actor="alice"),
            Case("an agent adds a product", 403, "permission_denied", actor="carol"),
        ],
    ),
    "GET /products/{product_id}": Endpoint(
        "alice",
        "/products/{panel}",
        cases=[
            Case(
                "an inactive product, asked by a customer",
                404,
                "not_found",
                path="/products/{retired}",
            ),
        ],
    ),
    "PATCH /products/{product_id}": Endpoint(
        "staff",
        "/products/{panel}",
        {"price": 1200},
        cases=[
            *refusals(422, "validation_error", "price", -1, "dear", True),
            *refusals(422, "validation_error", "setup_fee", -1),
            *refusals(422, "validation_error", "period_days", 0, "30"),
            *refusals(422, "validation_error", "suppliers", ["acme"]),
            # Found by schemathesis: a patch made a product without a name or slug.
            *refusals(422, "validation_error", "name", "", "  "),
            *refusals(422, "validation_error", "slug", "", "!!!"),
            *refusals(422, "validation_error", "active", 0, "false"),
            *refusals(422, "validation_error", "requires_identity", 1),
            Case("a slug that is taken", 409, "slug_taken", body={"slug": "retired"}),
            Case(
                "a slug that is taken once made a slug", 409, "slug_taken", body={"slug": "Retired"}
            ),
            Case("a customer edits a product", 403, "permission_denied", actor="alice"),
            Case("an agent edits a product", 403, "permission_denied", actor="carol"),
        ],
    ),
    "GET /invoices": Endpoint("alice", "/invoices"),
    "GET /invoices/{invoice_id}": Endpoint(
        "alice",
        "/invoices/{unpaid_invoice}",
        cases=[
            Case("another customer's invoice", 404, "not_found", path="/invoices/{bob_invoice}"),
        ],
    ),
    "POST /invoices/{invoice_id}/pay-with-credit": Endpoint(
        "alice",
        "/invoices/{unpaid_invoice}/pay-with-credit",
        control_before=credit_for_the_unpaid_invoice,
        cases=[
            Case("no credit to pay with", 402, "insufficient_credit"),
            Case(
                "an invoice paid already",
                409,
                "invalid_transition",
                path="/invoices/{license_invoice}/pay-with-credit",
            ),
            Case(
                "another customer's invoice",
                404,
                "not_found",
                path="/invoices/{bob_invoice}/pay-with-credit",
            ),
            Case(
                "an empty Idempotency-Key", 422, "validation_error", headers={"Idempotency-Key": ""}
            ),
            Case(
                "an Idempotency-Key of 201 characters",
                422,
                "validation_error",
                headers={"Idempotency-Key": "k" * 201},
            ),
        ],
    ),
    "POST /orders": Endpoint(
        "alice",
        "/orders",
        {"product": "panel", "ip": NEW_IP},
        control_status=201,
        cases=[
            *refusals(422, "invalid_ip", "ip", *PRIVATE_OR_NOT_IPS),
            Case("an IP as a number", 422, "validation_error", body={"ip": 1572395042}),
            *refusals(404, "not_found", "product", "nope", "987654", "0", ""),
            Case(
                "a product that is not on sale",
                422,
                "product_inactive",
                body={"product": "retired"},
            ),
            Case(
                "an IP on which the account holds the product",
                409,
                "ip_taken",
                body={"ip": PUBLIC_IP},
            ),
            Case(
                "an account the caller does not act for",
                404,
                "not_found",
                body={"account": "{dave}"},
            ),
            Case("an account id that is no id", 404, "not_found", body={"account": "abc"}),
            Case("staff order a license for themselves", 422, "validation_error", actor="staff"),
            Case(
                "an empty Idempotency-Key", 422, "validation_error", headers={"Idempotency-Key": ""}
            ),
        ],
    ),
    "POST /invoices/{invoice_id}/checkout": Endpoint(
        "alice",
        "/invoices/{unpaid_invoice}/checkout",
        {"gateway": "stripe"},
        control_context=checkout_at_a_fake_stripe,
        cases=[
            *refusals(404, "not_found", "gateway", "paypal", "", "STRIPE"),
            Case(
                "an invoice paid already",
                409,
                "invalid_transition",
                path="/invoices/{license_invoice}/checkout",
            ),
            Case(
                "another customer's invoice",
                404,
                "not_found",
                path="/invoices/{bob_invoice}/checkout",
            ),
        ],
    ),
    "POST /gateways/{name}/webhook": Endpoint(
        None,
        "/gateways/stripe/webhook",
        control_build=lambda w: stripe_event(w),
        cases=[
            Case(
                "an unknown gateway",
                404,
                "not_found",
                path="/gateways/paypal/webhook",
                build=lambda w: stripe_event(w),
            ),
            Case(
                "no signature", 400, "invalid_signature", build=lambda w: (stripe_event(w)[0], {})
            ),
            Case(
                "signed with another secret",
                400,
                "invalid_signature",
                build=lambda w: stripe_event(w, secret="whsec_other"),
            ),
            Case(
                "signed ten minutes ago",
                400,
                "invalid_signature",
                build=lambda w: stripe_event(w, stamp=int(time.time()) - 600),
            ),
            Case(
                "signed ten minutes from now",
                400,
                "invalid_signature",
                build=lambda w: stripe_event(w, stamp=int(time.time()) + 600),
            ),
            Case(
                "a body changed after signing",
                400,
                "invalid_signature",
                build=lambda w: (stripe_event(w, amount=1)[0], stripe_event(w)[1]),
            ),
            Case(
                "a signed body that is not JSON",
                400,
                "invalid_signature",
                build=lambda w: stripe_event(w, body="{not json"),
            ),
        ],
    ),
    "POST /deposits": Endpoint(
        "alice",
        "/deposits",
        {"amount": 5000},
        control_status=201,
        cases=[
            *refusals(
                422, "validation_error", "amount", 0, -5000, 10.5, True, "5000", None, 10_000_001
            ),
            Case(
                "an empty Idempotency-Key", 422, "validation_error", headers={"Idempotency-Key": ""}
            ),
        ],
    ),
    "POST /refunds": Endpoint(
        "alice",
        "/refunds",
        {"invoice": "{license_invoice}", "reason": "not needed"},
        control_status=201,
        cases=[
            Case(
                "an unpaid invoice", 409, "invalid_transition", body={"invoice": "{unpaid_invoice}"}
            ),
            Case(
                "an invoice with a refund waiting",
                409,
                "invalid_transition",
                body={"invoice": "{held_invoice}"},
            ),
            Case("another customer's invoice", 404, "not_found", body={"invoice": "{bob_invoice}"}),
            *refusals(404, "not_found", "invoice", "abc", "0", "987654"),
            *refusals(422, "validation_error", "reason", "", "   "),
        ],
    ),
    "GET /refunds": Endpoint("alice", "/refunds"),
    "POST /invoices/{invoice_id}/receipts": Endpoint(
        # The control is another transfer than the world's receipt on that invoice (PNG, TX-1).
        "alice",
        "/invoices/{unpaid_invoice}/receipts",
        control_build=multipart(content=PNG + b"control"),
        control_status=201,
        cases=[
            Case("the file of a receipt it has", 409, "duplicate_receipt", build=multipart()),
            Case(
                "the reference of a receipt it has",
                409,
                "duplicate_receipt",
                build=multipart(content=PNG + b"other", reference=" tx-1 "),
            ),
            Case("no file", 422, "validation_error", build=multipart(with_file=False)),
            Case("an empty file", 422, "empty_file", build=multipart(content=b"")),
            Case(
                "a script named .png",
                415,
                "unsupported_file_type",
                build=multipart(content=b"#!/bin/sh\necho hi\n"),
            ),
            Case(
                "a file over 10 MB",
                413,
                "file_too_large",
                build=multipart(content=PNG + b"0" * (10 * 1024 * 1024)),
            ),
            Case(
                "a reference of 201 characters",
                422,
                "validation_error",
                build=multipart(reference="r" * 201),
            ),
            Case(
                "an invoice paid already",
                409,
                "invalid_transition",
                path="/invoices/{license_invoice}/receipts",
                build=multipart(),
            ),
            Case(
                "another customer's invoice",
                404,
                "not_found",
                path="/invoices/{bob_invoice}/receipts",
                build=multipart(),
            ),
            Case(
                "an empty Idempotency-Key",
                422,
                "validation_error",
                headers={"Idempotency-Key": ""},
                build=multipart(),
            ),
        ],
    ),
    "GET /invoices/{invoice_id}/receipts": Endpoint(
        "alice",
        "/invoices/{unpaid_invoice}/receipts",
        cases=[
            Case(
                "another customer's invoice",
                404,
                "not_found",
                path="/invoices/{bob_invoice}/receipts",
            ),
        ],
    ),
    "GET /receipts": Endpoint(
        "staff",
        "/receipts",
        cases=[
            Case("an unknown status", 422, "validation_error", query="status=lost"),
        ],
    ),
    "GET /receipts/{receipt_id}": Endpoint(
        "alice",
        "/receipts/{alice_receipt}",
        cases=[
            Case("another customer's receipt", 404, "not_found", path="/receipts/{bob_receipt}"),
        ],
    ),
    "GET /receipts/{receipt_id}/file": Endpoint(
        "alice",
        "/receipts/{alice_receipt}/file",
        cases=[
            Case(
                "another customer's receipt", 404, "not_found", path="/receipts/{bob_receipt}/file"
            ),
            Case("an agent's view of a file it did not upload", 404, "not_found", actor="carol"),
        ],
    ),
    "POST /receipts/{receipt_id}/confirm": Endpoint(
        "staff",
        "/receipts/{alice_receipt}/confirm",
        {"amount": 1500},
        cases=[
            Case("the customer confirms its own receipt", 403, "permission_denied", actor="alice"),
            *refusals(422, "validation_error", "amount", 0, -1, True, "1500", 10.5),
            Case("less than the invoice total", 422, "amount_short", body={"amount": 1499}),
        ],
    ),
    "POST /receipts/{receipt_id}/reject": Endpoint(
        "staff",
        "/receipts/{alice_receipt}/reject",
        {"reason": "unreadable"},
        cases=[
            Case("the customer rejects its own receipt", 403, "permission_denied", actor="alice"),
            *refusals(422, "validation_error", "reason", "", "   ", "r" * 301),
        ],
    ),
    "GET /refunds/{refund_id}": Endpoint(
        "alice",
        "/refunds/{alice_refund}",
        cases=[
            Case("another customer's refund", 404, "not_found", path="/refunds/{bob_refund}"),
        ],
    ),
    "POST /refunds/{refund_id}/approve": Endpoint(
        "staff",
        "/refunds/{bob_refund}/approve",
        {"destination": "credit"},
        cases=[
            Case("the customer approves its own refund", 403, "permission_denied", actor="bob"),
            Case("another customer approves it", 403, "permission_denied", actor="alice"),
            Case(
                "nothing is eligible",
                409,
                "invalid_transition",
                path="/refunds/{alice_refund}/approve",
            ),
            *refusals(422, "validation_error", "destination", "bank", ""),
            Case(
                "paid back through a gateway it was not paid with",
                422,
                "validation_error",
                body={"destination": "original"},
            ),
            *refusals(422, "validation_error", "amount", 5, True, "5"),
        ],
    ),
    "POST /refunds/{refund_id}/reject": Endpoint(
        "staff",
        "/refunds/{bob_refund}/reject",
        {"note": "outside the policy"},
        cases=[
            Case("the customer rejects its own refund", 403, "permission_denied", actor="bob"),
            *refusals(422, "validation_error", "note", "", "  "),
        ],
    ),
    "POST /licenses/{license_id}/unresolvable": Endpoint(
        "staff",
        "/licenses/{license}/unresolvable",
        {"note": "the panel cannot run there", "ticket": "{alice_ticket}"},
        cases=[
            Case("the owner marks its own license", 403, "permission_denied", actor="alice"),
            Case("another customer marks it", 404, "not_found", actor="bob"),
            *refusals(422, "validation_error", "note", "", "  "),
            Case(
                "a ticket about another license",
                404,
                "not_found",
                body={"ticket": "{bob_ticket}"},
            ),
            Case("no ticket named", 422, "validation_error", body={"ticket": None}),
        ],
    ),
    "GET /orders": Endpoint("alice", "/orders"),
    "GET /orders/{order_id}": Endpoint(
        "alice",
        "/orders/{unpaid}",
        cases=[
            Case("another customer's order", 404, "not_found", path="/orders/{bob_unpaid}"),
        ],
    ),
    "POST /orders/{order_id}/cancel": Endpoint(
        "alice",
        "/orders/{unpaid}/cancel",
        cases=[
            Case(
                "a completed order",
                409,
                "invalid_transition",
                path="/orders/{license_order}/cancel",
            ),
            Case("a paid order on hold", 409, "invalid_transition", path="/orders/{held}/cancel"),
            Case("another customer's order", 404, "not_found", path="/orders/{bob_unpaid}/cancel"),
        ],
    ),
    "GET /review-queue": Endpoint(
        "staff",
        "/review-queue",
        cases=[
            Case("a customer reads the review queue", 403, "permission_denied", actor="alice"),
            Case("an agent reads the review queue", 403, "permission_denied", actor="carol"),
        ],
    ),
    **{
        f"POST /orders/{{order_id}}/{decision}": Endpoint(
            "staff",
            f"/orders/{{held}}/{decision}",
            body,
            cases=[
                Case(
                    "the owner decides its own held order", 403, "permission_denied", actor="alice"
                ),
                Case("another customer decides it", 404, "not_found", actor="bob"),
                Case(
                    "an order that is not held (unpaid)",
                    409,
                    "invalid_transition",
                    path=f"/orders/{{unpaid}}/{decision}",
                ),
                Case(
                    "an order that is not held (completed)",
                    409,
                    "invalid_transition",
                    path=f"/orders/{{license_order}}/{decision}",
                ),
            ]
            + ([] if body is None else refusals(422, "validation_error", "note", 5, False)),
        )
        for decision, body in (
            ("retry", None),
            ("approve", {"note": "checked by hand"}),
            ("reject", {"note": "fraud"}),
        )
    },
    "GET /licenses": Endpoint(
        "alice",
        "/licenses",
        cases=[
            Case("an unknown status filter", 422, "validation_error", query="status=sleeping"),
        ],
    ),
    "GET /licenses/{license_id}": Endpoint(
        "alice",
        "/licenses/{license}",
        cases=[
            Case("another customer's license", 404, "not_found", path="/licenses/{bob_license}"),
        ],
    ),
    "POST /licenses/{license_id}/renew": Endpoint(
        "alice",
        "/licenses/{license}/renew",
        cases=[
            Case(
                "another customer's license", 404, "not_found", path="/licenses/{bob_license}/renew"
            ),
        ],
    ),
    "POST /licenses/{license_id}/change-ip": Endpoint(
        "alice",
        "/licenses/{license}/change-ip",
        {"ip": NEW_IP},
        cases=[
            *refusals(422, "invalid_ip", "ip", *PRIVATE_OR_NOT_IPS),
            Case("the IP it is on already", 422, "validation_error", body={"ip": PUBLIC_IP}),
            Case("an IP licensed to someone else", 409, "ip_taken", body={"ip": OTHER_IP}),
            Case(
                "another customer's license",
                404,
                "not_found",
                path="/licenses/{bob_license}/change-ip",
            ),
        ],
    ),
    "GET /licenses/{license_id}/history": Endpoint(
        "alice",
        "/licenses/{license}/history",
        cases=[
            Case(
                "another customer's license",
                404,
                "not_found",
                path="/licenses/{bob_license}/history",
            ),
        ],
    ),
    "POST /verify": Endpoint(
        None,
        "/verify",
        {"product": "panel", "nonce": NONCE},
        cases=[
            *refusals(422, "invalid_nonce", "nonce", "short", "", "n" * 129),
            *refusals(404, "not_found", "product", "nope", "", "retired "),
        ],
    ),
    # Public and parameterless: nothing to get wrong; the control request still runs.
    "GET /verify/keys": Endpoint(None, "/verify/keys"),
    "GET /webhooks": Endpoint(
        "carol",
        "/webhooks",
        cases=[Case("a customer lists webhooks", 403, "permission_denied", actor="alice")],
    ),
    "POST /webhooks": Endpoint(
        "carol",
        "/webhooks",
        {"url": HOOK_URL, "events": ["invoice.paid", "transfer.*"]},
        control_status=201,
        cases=[
            *refusals(
                422,
                "url_not_allowed",
                "url",
                "https://10.0.0.1/hooks",
                "https://127.0.0.1/hooks",
                "https://[::1]/hooks",
                "https://169.254.169.254/",
                "http://93.184.216.34/hooks",
                "ftp://93.184.216.34/hooks",
                "https://u:p@93.184.216.34/",
                "https://93.184.216.34:0/",
                "hooks",
            ),
            *refusals(422, "validation_error", "url", "", "https://a.test/" + "x" * 490, 7),
            *refusals(
                422,
                "validation_error",
                "events",
                [],
                ["invoice.refunded"],
                ["*"],
                "invoice.paid",
                [None],
                ["x" * 41],
                ["invoice.paid"] * 12,
            ),
            Case("a customer registers one", 403, "permission_denied", actor="alice"),
            Case("staff register one", 403, "permission_denied", actor="staff"),
            Case("a read-only token", 403, "permission_denied", actor="carol read-only"),
        ],
    ),
    "GET /webhooks/{webhook_id}": Endpoint(
        "carol",
        "/webhooks/{hook}",
        cases=[
            Case("another agent's", 404, "not_found", path="/webhooks/{other_hook}"),
            Case("a customer", 403, "permission_denied", actor="alice"),
        ],
    ),
    "PATCH /webhooks/{webhook_id}": Endpoint(
        "carol",
        "/webhooks/{hook}",
        {"events": ["license.blocked"], "status": "enabled"},
        cases=[
            *refusals(422, "validation_error", "status", "on", "", "ENABLED", True),
            *refusals(422, "validation_error", "events", [], ["nope"], "license.blocked"),
            *refusals(422, "url_not_allowed", "url", "https://10.0.0.1/x", "http://93.184.216.34/"),
            Case("another agent's", 404, "not_found", path="/webhooks/{other_hook}"),
            Case("staff change one", 403, "permission_denied", actor="staff"),
            Case("a customer", 403, "permission_denied", actor="alice"),
            Case("a read-only token", 403, "permission_denied", actor="carol read-only"),
        ],
    ),
    "POST /webhooks/{webhook_id}/rotate-secret": Endpoint(
        "carol",
        "/webhooks/{hook}/rotate-secret",
        cases=[
            Case("another agent's", 404, "not_found", path="/webhooks/{other_hook}/rotate-secret"),
            Case("staff rotate one", 403, "permission_denied", actor="staff"),
            Case("a customer", 403, "permission_denied", actor="alice"),
            Case("a read-only token", 403, "permission_denied", actor="carol read-only"),
        ],
    ),
    "POST /webhooks/{webhook_id}/test": Endpoint(
        "carol",
        "/webhooks/{hook}/test",
        control_status=202,
        cases=[
            Case("another agent's", 404, "not_found", path="/webhooks/{other_hook}/test"),
            Case(
                "a disabled endpoint",
                409,
                "invalid_transition",
                path="/webhooks/{disabled_hook}/test",
            ),
            Case("staff test one", 403, "permission_denied", actor="staff"),
            Case("a customer", 403, "permission_denied", actor="alice"),
        ],
    ),
    "GET /webhooks/{webhook_id}/deliveries": Endpoint(
        "carol",
        "/webhooks/{hook}/deliveries",
        cases=[
            Case("an unknown status", 422, "validation_error", query="status=sent"),
            Case("another agent's", 404, "not_found", path="/webhooks/{other_hook}/deliveries"),
            Case("a customer", 403, "permission_denied", actor="alice"),
        ],
    ),
    "GET /webhooks/{webhook_id}/deliveries/{delivery_id}": Endpoint(
        "carol",
        "/webhooks/{hook}/deliveries/{delivery}",
        cases=[
            Case(
                "another endpoint's delivery",
                404,
                "not_found",
                path="/webhooks/{hook}/deliveries/{other_delivery}",
            ),
            Case(
                "another agent's",
                404,
                "not_found",
                path="/webhooks/{other_hook}/deliveries/{other_delivery}",
            ),
            Case("a customer", 403, "permission_denied", actor="alice"),
        ],
    ),
    "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/replay": Endpoint(
        "carol",
        "/webhooks/{hook}/deliveries/{delivery}/replay",
        control_status=202,
        cases=[
            Case(
                "another endpoint's delivery",
                404,
                "not_found",
                path="/webhooks/{hook}/deliveries/{other_delivery}/replay",
            ),
            Case(
                "another agent's",
                404,
                "not_found",
                path="/webhooks/{other_hook}/deliveries/{other_delivery}/replay",
            ),
            Case(
                "a disabled endpoint's",
                409,
                "invalid_transition",
                path="/webhooks/{disabled_hook}/deliveries/{disabled_delivery}/replay",
            ),
            Case("staff replay one", 403, "permission_denied", actor="staff"),
            Case("a customer", 403, "permission_denied", actor="alice"),
        ],
    ),
    "GET /suppliers": Endpoint(
        "staff",
        "/suppliers",
        cases=[
            Case("a customer lists suppliers", 403, "permission_denied", actor="alice"),
            Case("an agent lists suppliers", 403, "permission_denied", actor="carol"),
        ],
    ),
    "POST /suppliers": Endpoint(
        "staff",
        "/suppliers",
        {"name": "beta", "base_url": "https://beta.test", "username": "u", "password": "p"},
        control_status=201,
        cases=[
            *refusals(422, "validation_error", "name", "own", "a b", "", "x/y"),
            *refusals(422, "validation_error", "base_url", "ftp://beta.test", "beta.test"),
            *refusals(422, "validation_error", "kind", "whmcs"),
            *refusals(422, "validation_error", "timeout_seconds", 0, -1, 121, "slow", "15"),
            *refusals(422, "validation_error", "active", 0, "yes"),
            Case("a name that is taken", 409, "name_taken", body={"name": "acme"}),
            Case("a customer adds a supplier", 403, "permission_denied", actor="alice"),
        ],
    ),
    "PATCH /suppliers/{name}": Endpoint(
        "staff",
        "/suppliers/acme",
        {"base_url": "https://acme2.test"},
        cases=[
            Case("an unknown supplier", 404, "not_found", path="/suppliers/nobody"),
            *refusals(422, "validation_error", "base_url", "gopher://acme.test"),
            *refusals(422, "validation_error", "timeout_seconds", 0, 500, "15"),
            *refusals(422, "validation_error", "active", 1, "false"),
            Case("a customer edits a supplier", 403, "permission_denied", actor="alice"),
        ],
    ),
}


def openapi() -> dict[str, Any]:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path.removeprefix(PREFIX)}": op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }


def body_schema(schema: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref") or content["schema"].get("anyOf", [{}])[0].get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def derived_cases(name: str, endpoint: Endpoint, schema: dict[str, Any]) -> list[Case]:
    """The bad requests the endpoint's OpenAPI description implies."""
    op = operations(schema)[name]
    cases: list[Case] = []
    if op.get("security"):
        for actor in ("made-up token", "revoked token", "not a bearer"):
            cases.append(Case(f"{actor}", 401, "unauthenticated", actor=actor))
        cases.append(Case("no token", 401, "unauthenticated", actor="anonymous"))
    path_params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
    for param in path_params:
        if param.endswith("_id"):
            template = name.split(" ", 1)[1]
            for bad in BAD_IDS:
                cases.append(
                    Case(
                        f"{param}={bad!r}",
                        404,
                        "not_found",
                        path=template.replace("{" + param + "}", bad),
                    )
                )
    query_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    if "limit" in query_params:
        for bad in ("0", "1000", "201", "-1", "ten"):
            cases.append(Case(f"limit={bad}", 422, "validation_error", query=f"limit={bad}"))
    if "cursor" in query_params:
        for bad in ("%%%", "not-a-cursor", "LTU", "MA", "x" * 300):  # LTU: -5, MA: 0
            cases.append(Case(f"cursor={bad[:20]}", 422, "validation_error", query=f"cursor={bad}"))
    body = body_schema(schema, op)
    if body is not None:
        cases.append(Case("malformed JSON", 400, "validation_error", raw='{"ip": "1.2.3.4", '))
        cases.append(Case("JSON that is not an object", 400, "validation_error", raw="[1, 2]"))
        for required in body.get("required", []):
            cases.append(
                Case(f"{required} missing", 422, "validation_error", body={required: MISSING})
            )
        for key in endpoint.body or {}:
            for wrong in ([1], {"a": 1}):
                cases.append(
                    Case(
                        f"{key} of the wrong type {wrong!r}",
                        422,
                        "validation_error",
                        body={key: wrong},
                    )
                )
    return cases


MISSING = object()


def fill(text: str, ids: dict[str, Any]) -> str:
    for name, value in ids.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def request(world: World, endpoint: Endpoint, method: str, case: Case | None) -> Any:
    ids = world.ids()
    actor = endpoint.actor if case is None or case.actor is None else case.actor
    api = world.apis[None if actor == "anonymous" else actor]
    path = fill(endpoint.path if case is None or case.path is None else case.path, ids)
    if case is not None and case.query:
        path += "?" + case.query
    headers = case.headers if case is not None else {}
    build = endpoint.control_build if case is None else case.build
    if build is not None:
        raw, built = build(world)
        headers = {**headers, **built}
        content_type = headers.pop("Content-Type", "application/json")
        return raw_post(api, path, raw, content_type=content_type, method=method, headers=headers)
    if case is not None and case.raw is not None:
        return raw_post(api, path, case.raw, method=method)
    body = endpoint.body
    if case is not None and case.body is not None:
        body = dict(body or {})
        for key, value in case.body.items():
            if value is MISSING:
                body.pop(key, None)
            else:
                body[key] = value
    if body is not None:
        body = {k: fill(v, ids) if isinstance(v, str) else v for k, v in body.items()}
    if method == "get":
        return api.get(path, **headers)
    if method == "patch":
        return api.patch(path, body, **headers)
    if method == "delete":
        return api.delete(path, **headers)
    if body is None:
        # No body at all, the way a client that has nothing to send posts.
        extra = dict(api.headers)
        for header, value in headers.items():
            extra["HTTP_" + header.upper().replace("-", "_")] = value
        response = api.client.generic("POST", f"/api/v1{path}", b"", content_type="", **extra)
        response.json_body = response.json() if response.content else None
        return response
    return api.post(path, body, **headers)


@pytest.fixture
def world(
    alice: User, bob: User, carol: User, dave: User, staff: User, product: Product, settings: Any
) -> World:
    return World(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        staff=staff,
        product=product,
        settings=settings,
    )


def test_every_endpoint_in_the_openapi_document_has_bad_input_cases(db: Any) -> None:
    served = set(operations(openapi()))
    assert sorted(served - set(ENDPOINTS)) == [], "endpoints without bad-input cases"
    assert sorted(set(ENDPOINTS) - served) == [], "cases for endpoints that are not served"


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_bad_input_is_refused_with_a_stable_code_and_changes_nothing(
    name: str, world: World
) -> None:
    schema = openapi()
    if name not in operations(schema):
        pytest.fail(f"{name} is not in the OpenAPI document any more")
    endpoint = ENDPOINTS[name]
    method = name.split(" ", 1)[0].lower()
    cases = endpoint.cases + derived_cases(name, endpoint, schema)
    failures: list[str] = []

    for case in cases:
        with transaction.atomic():
            if endpoint.before:
                endpoint.before(world)
            before = snapshot()
            response = request(world, endpoint, method, case)
            after = snapshot()
            transaction.set_rollback(True)
        body = response.json_body if response["Content-Type"] == PROBLEM else None
        got = (response.status_code, (body or {}).get("code"))
        problems = []
        if got != (case.status, case.code):
            problems.append(f"got {got} {response.content[:200]!r}")
        if body is None:
            problems.append(f"Content-Type {response['Content-Type']}")
        elif (
            set(body) < {"type", "title", "status", "detail", "code"}
            or body["status"] != response.status_code
        ):
            problems.append(f"not a problem body: {body}")
        if before != after:
            changed = sorted(k for k in before if before[k] != after.get(k))
            problems.append(f"changed {changed}")
        if problems:
            failures.append(
                f"{case.label}: expected {(case.status, case.code)}; " + "; ".join(problems)
            )

    with transaction.atomic():
        for hook in (endpoint.before, endpoint.control_before):
            if hook:
                hook(world)
        with endpoint.control_context():
            control = request(world, endpoint, method, None)
        transaction.set_rollback(True)
    if control.status_code != endpoint.control_status:
        failures.append(f"control request: {control.status_code} {control.content[:300]!r}")

    assert failures == [], f"{name}:\n" + "\n".join(failures)
    assert len(cases) >= 1 or name == "GET /verify/keys"


def test_a_refusal_reads_as_problem_json(world: World) -> None:
    response = world.apis["alice"].post("/orders", {"product": "panel", "ip": "10.0.0.1"})

    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["code"] == "invalid_ip"
    assert body["type"] == "https://licensary.dev/problems/invalid_ip"
    assert body["status"] == 422
    assert "10.0.0.1" in body["detail"]
