"""`Idempotency-Key` (RELIABILITY "Money"): the first answer to a key is stored and replayed;
the same key with another body is `idempotency_conflict`; a request that failed stores nothing;
keys are scoped per account; concurrent requests with one key make one order."""

from typing import Any

import pytest
from django.db import connection

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Payment
from licensary.catalog.models import Product
from licensary.core.models import IdempotencyRecord
from licensary.ledger.models import LedgerTransaction
from licensary.orders.models import Order
from tests.api.support import snapshot
from tests.concurrency import run_concurrently as run_in_threads
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, give_credit

KEY = "order-2025-10-01-0001"
ORDER = {"product": "panel", "ip": PUBLIC_IP}
RACERS = 50


def test_the_same_key_and_body_replay_the_first_answer(alice: User, product: Product) -> None:
    api = api_for(alice)

    first = api.post("/orders", ORDER, **{"Idempotency-Key": KEY})
    again = api.post("/orders", ORDER, **{"Idempotency-Key": KEY})

    assert first.status_code == 201, first.json_body
    assert again.status_code == 201
    assert again.json_body == first.json_body
    assert Order.objects.count() == 1
    assert Invoice.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict_and_changes_nothing(
    alice: User, product: Product
) -> None:
    api = api_for(alice)
    first = api.post("/orders", ORDER, **{"Idempotency-Key": KEY})
    before = snapshot()

    other = api.post("/orders", {"product": "panel", "ip": OTHER_IP}, **{"Idempotency-Key": KEY})

    assert first.status_code == 201
    assert (other.status_code, other.json_body["code"]) == (409, "idempotency_conflict")
    assert other["Content-Type"] == "application/problem+json"
    assert snapshot() == before
    assert list(Order.objects.values_list("ip", flat=True)) == [PUBLIC_IP]


def test_the_same_key_on_another_endpoint_is_a_conflict(
    alice: User, staff: User, product: Product
) -> None:
    api = api_for(alice)
    order = api.post("/orders", ORDER, **{"Idempotency-Key": KEY}).json_body
    give_credit(alice, 1500, staff)

    paid = api.post(f"/invoices/{order['invoice']}/pay-with-credit", **{"Idempotency-Key": KEY})

    assert (paid.status_code, paid.json_body["code"]) == (409, "idempotency_conflict")
    assert Invoice.objects.get(pk=order["invoice"]).status == "unpaid"


@pytest.mark.parametrize(
    "bad_body, code",
    [
        ({"product": "panel"}, "validation_error"),  # refused by the schema, before the handler
        ({"product": "panel", "ip": "10.0.0.1"}, "invalid_ip"),  # refused by the service
        ({"product": "nope", "ip": PUBLIC_IP}, "not_found"),
    ],
)
def test_a_refused_request_stores_nothing_so_the_key_works_with_a_fixed_body(
    alice: User, product: Product, bad_body: dict[str, Any], code: str
) -> None:
    api = api_for(alice)
    before = snapshot()

    refused = api.post("/orders", bad_body, **{"Idempotency-Key": KEY})

    assert refused.json_body["code"] == code
    assert snapshot() == before
    assert IdempotencyRecord.objects.count() == 0
    fixed = api.post("/orders", ORDER, **{"Idempotency-Key": KEY})
    assert fixed.status_code == 201, fixed.json_body
    assert Order.objects.count() == 1


def test_keys_are_scoped_per_account(alice: User, bob: User, product: Product) -> None:
    alice_api, bob_api = api_for(alice), api_for(bob)

    alices = alice_api.post("/orders", ORDER, **{"Idempotency-Key": KEY})
    bobs = bob_api.post("/orders", ORDER, **{"Idempotency-Key": KEY})
    bobs_other = bob_api.post(
        "/orders", {"product": "panel", "ip": OTHER_IP}, **{"Idempotency-Key": KEY}
    )

    assert alices.status_code == bobs.status_code == 201
    assert alices.json_body["id"] != bobs.json_body["id"]
    assert (alices.json_body["account"], bobs.json_body["account"]) == (str(alice.pk), str(bob.pk))
    assert bobs_other.json_body["code"] == "idempotency_conflict"
    assert Order.objects.count() == 2


def test_a_payment_replayed_with_its_key_is_paid_once(
    alice: User, staff: User, product: Product
) -> None:
    api = api_for(alice)
    invoice = api.post("/orders", ORDER).json_body["invoice"]
    give_credit(alice, 3000, staff)

    first = api.post(f"/invoices/{invoice}/pay-with-credit", **{"Idempotency-Key": "pay-1"})
    again = api.post(f"/invoices/{invoice}/pay-with-credit", **{"Idempotency-Key": "pay-1"})
    unkeyed = api.post(f"/invoices/{invoice}/pay-with-credit")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json_body == first.json_body
    assert (unkeyed.status_code, unkeyed.json_body["code"]) == (409, "invalid_transition")
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_identical_orders_with_one_key_make_one_order(
    alice: User, product: Product
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs concurrent writers and row locks: runs on PostgreSQL only "
            "(SQLite serialises every writer)"
        )
    apis = [api_for(alice) for _ in range(RACERS)]

    def order(i: int) -> tuple[int, Any]:
        response = apis[i].post("/orders", ORDER, **{"Idempotency-Key": KEY})
        return response.status_code, response.json_body

    results = run_in_threads(order, RACERS)  # each thread closes its connection at the end

    assert [r for r in results if isinstance(r, BaseException)] == []
    order_row = Order.objects.get()
    stored = IdempotencyRecord.objects.get()
    assert stored.status_code == 201
    for status, body in results:
        if status == 201:
            assert body == stored.body
            assert body["id"] == str(order_row.pk)
        else:
            assert (status, body["code"]) == (409, "idempotency_conflict"), body
    assert sum(status == 201 for status, _ in results) >= 1
    assert Invoice.objects.count() == 1
    assert Order.objects.filter(account=alice).count() == 1
