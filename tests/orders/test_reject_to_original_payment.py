"""Rule 7: a held order staff reject is refunded in full, to the account's credit by default
or, by staff's choice, back through the gateway it was paid with."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Refund
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs
from tests.payments.fake_stripe import session_completed
from tests.payments.test_stripe import deliver


def held_paid_by_stripe(alice: User, bob: User, product: Any, staff: User) -> Order:
    """Alice holds the IP; Bob orders it too, pays through Stripe, and is held for review."""
    give_credit(alice, 1500, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=first.invoice, actor=alice)
    run_jobs()
    held = order_create(actor=bob, product=product, ip=PUBLIC_IP)
    deliver(session_completed("evt_bob", held.invoice, intent="pi_bob"))
    run_jobs()
    held.refresh_from_db()
    assert held.status == "on_hold"
    return held


def stripe_refunds(fake: Any) -> list[tuple[list[str], list[str], str]]:
    return [
        (form["amount"], form["payment_intent"], headers["Idempotency-Key"])
        for path, form, headers in fake.requests
        if path == "/v1/refunds"
    ]


def test_rule7_staff_reject_a_held_order_back_to_the_original_payment(
    alice, bob, product, staff, fake_stripe
):
    held = held_paid_by_stripe(alice, bob, product, staff)

    answer = api_for(staff).post(
        f"/orders/{held.pk}/reject", {"note": "the IP is alice's", "destination": "original"}
    )

    assert (answer.status_code, answer.json_body["status"]) == (200, "rejected"), answer.json_body
    refund = Refund.objects.get(invoice=held.invoice)
    assert (refund.status, refund.rule, refund.eligible, refund.destination) == (
        "paid",
        "never_delivered",
        1500,
        "original",
    )
    assert stripe_refunds(fake_stripe) == [(["1500"], ["pi_bob"], f"licensary-refund-{refund.pk}")]
    assert account_credit(bob).amount == 0
    assert Invoice.objects.get(pk=held.invoice_id).status == "refunded"
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    # Stripe's own report of that refund is not counted again.
    from tests.payments.fake_stripe import charge_refunded

    deliver(charge_refunded("evt_bob_ref", intent="pi_bob", refunded=1500))
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1


def test_rule7_rejecting_to_the_original_payment_needs_a_gateway_payment(
    alice, bob, product, staff
):
    give_credit(alice, 1500, staff)
    give_credit(bob, 1500, staff)
    for account in (alice, bob):
        order = order_create(actor=account, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=order.invoice, actor=account)
        run_jobs()
    held = Order.objects.get(account=bob)
    api = api_for(staff)

    by_credit = api.post(f"/orders/{held.pk}/reject", {"destination": "original"})
    unknown = api.post(f"/orders/{held.pk}/reject", {"destination": "cash"})

    assert (by_credit.status_code, by_credit.json_body["code"]) == (422, "validation_error")
    assert (unknown.status_code, unknown.json_body["code"]) == (422, "validation_error")
    assert Order.objects.get(pk=held.pk).status == "on_hold"
    assert not Refund.objects.exists()
    assert account_credit(bob).amount == 0
    default = api.post(f"/orders/{held.pk}/reject", {"note": "alice's IP"})
    assert default.json_body["status"] == "rejected"
    assert account_credit(bob).amount == 1500


def test_rule7_a_rejection_whose_gateway_refund_is_lost_is_repeated_safely(
    alice, bob, product, staff, fake_stripe, settings
):
    held = held_paid_by_stripe(alice, bob, product, staff)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    lost = api_for(staff).post(f"/orders/{held.pk}/reject", {"destination": "original"})

    assert (lost.status_code, lost.json_body["code"]) == (502, "gateway_unreachable")
    assert Order.objects.get(pk=held.pk).status == "rejected"
    refund = Refund.objects.get(invoice=held.invoice)
    assert (refund.status, refund.destination) == ("approved", "original")
    assert not LedgerTransaction.objects.filter(kind="refund").exists()
    settings.STRIPE_API_BASE = fake_stripe.url
    again = api_for(staff).post(f"/refunds/{refund.pk}/approve", {"destination": "original"})
    assert again.json_body["status"] == "paid"
    assert [key for *_, key in stripe_refunds(fake_stripe)] == [f"licensary-refund-{refund.pk}"]
    assert Invoice.objects.get(pk=held.invoice_id).status == "refunded"
    assert account_credit(bob).amount == 0


@pytest.fixture
def console(db: Any) -> Client:
    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    client = Client()
    client.force_login(root)
    return client


def test_rule7_staff_reject_a_held_order_to_the_original_payment_in_the_admin(
    alice, bob, product, staff, console, fake_stripe
):
    held = held_paid_by_stripe(alice, bob, product, staff)

    page = console.post(
        "/admin/orders/order/",
        {"action": "reject_to_original", "_selected_action": [held.pk]},
        follow=True,
    )

    assert f"Order {held.pk}: rejected." in page.content.decode()
    refund = Refund.objects.get(invoice=held.invoice)
    assert (refund.status, refund.destination) == ("paid", "original")
    assert account_credit(bob).amount == 0
