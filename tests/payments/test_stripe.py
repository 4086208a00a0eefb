"""Stripe: checkout against a local Stripe API, webhooks signed exactly as Stripe signs them."""

import time

import pytest
from django.test import Client

from licensary.billing.models import GatewayEvent, Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs
from tests.payments.fake_stripe import charge_refunded, session_completed, sign


def deliver(payload: str, signature: str | None = None):
    return Client().post(
        "/api/v1/gateways/stripe/webhook",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature if signature is not None else sign(payload),
    )


@pytest.fixture
def order(alice, product) -> Order:
    return order_create(actor=alice, product=product, ip=PUBLIC_IP)


def test_checkout_creates_a_stripe_session_and_returns_its_url(alice, order, fake_stripe):
    answer = api_for(alice).post(f"/invoices/{order.invoice_id}/checkout", {"gateway": "stripe"})

    assert answer.status_code == 200, answer.json_body
    assert answer.json_body["url"].startswith("https://checkout.stripe.test/pay/")
    path, form, headers = fake_stripe.requests[-1]
    assert path == "/v1/checkout/sessions"
    assert form["metadata[invoice]"] == [str(order.invoice_id)]
    assert form["line_items[0][price_data][unit_amount]"] == ["1500"]
    assert headers["Idempotency-Key"] == f"checkout-{order.invoice_id}-1500"


def test_checkout_with_an_unknown_gateway_or_a_paid_invoice_is_refused(
    alice, order, staff, fake_stripe
):
    api = api_for(alice)
    unknown = api.post(f"/invoices/{order.invoice_id}/checkout", {"gateway": "paypal"})
    assert (unknown.status_code, unknown.json_body["code"]) == (404, "not_found")
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    paid = api.post(f"/invoices/{order.invoice_id}/checkout", {"gateway": "stripe"})
    assert (paid.status_code, paid.json_body["code"]) == (409, "invalid_transition")


def test_completed_checkout_pays_the_invoice_and_delivers(alice, order, fake_stripe):
    answer = deliver(session_completed("evt_1", order.invoice))

    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"] == "applied"
    order.refresh_from_db()
    assert (order.invoice.status, order.status) == ("paid", "processing")
    run_jobs()
    order.refresh_from_db()
    assert order.status == "completed"
    payment = Payment.objects.get()
    assert (payment.amount, payment.gateway, payment.reference) == (1500, "stripe", "pi_1")


def test_wrong_signature_is_refused_and_changes_nothing(order, fake_stripe):
    payload = session_completed("evt_1", order.invoice)
    bad = deliver(payload, sign(payload, secret="whsec_other"))
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_signature")
    tampered = deliver(payload.replace('"amount_total": 1500', '"amount_total": 1'), sign(payload))
    assert tampered.status_code == 400
    assert not GatewayEvent.objects.exists()
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"


@pytest.mark.parametrize("age", [301, -301])
def test_old_or_future_timestamp_is_refused(order, fake_stripe, age):
    payload = session_completed("evt_1", order.invoice)
    answer = deliver(payload, sign(payload, timestamp=int(time.time()) - age))
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"


def test_replayed_event_is_applied_once(alice, order, fake_stripe):
    payload = session_completed("evt_1", order.invoice)
    for _ in range(3):
        assert deliver(payload).status_code == 200
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert GatewayEvent.objects.count() == 1
    assert account_credit(alice).amount == 0


def test_amount_or_currency_mismatch_is_recorded_for_staff_not_applied(order, fake_stripe):
    short = deliver(session_completed("evt_1", order.invoice, amount=1000))
    other = deliver(session_completed("evt_2", order.invoice, currency="EUR"))
    assert short.json()["outcome"] == other.json()["outcome"] == "mismatch"
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"
    assert not Payment.objects.exists()


def test_event_for_an_unknown_invoice_is_acknowledged_and_logged(order, fake_stripe):
    payload = session_completed("evt_1", order.invoice).replace(
        f'"invoice": "{order.invoice_id}"', '"invoice": "999999"'
    )
    answer = deliver(payload)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown_invoice")
    assert GatewayEvent.objects.get().outcome == "unknown_invoice"


def test_second_payment_for_a_paid_invoice_goes_to_credit(alice, order, staff, fake_stripe):
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    answer = deliver(session_completed("evt_1", order.invoice))

    assert answer.json()["outcome"] == "overpaid"
    assert Payment.objects.count() == 1
    assert account_credit(alice).amount == 1500  # the Stripe money is not lost


def _final_state(alice, order):
    invoice = Invoice.objects.get(pk=order.invoice_id)
    return (
        invoice.status,
        account_credit(alice).amount,
        sorted(LedgerTransaction.objects.values_list("kind", flat=True)),
    )


@pytest.mark.parametrize("order_of_events", ["in_order", "refund_first"])
def test_completed_and_refunded_events_end_the_same_in_any_order(
    alice, order, fake_stripe, order_of_events
):
    paid = session_completed("evt_pay", order.invoice, intent="pi_9")
    refunded = charge_refunded("evt_ref", intent="pi_9", refunded=1500)
    events = [paid, refunded] if order_of_events == "in_order" else [refunded, paid]
    for payload in events:
        assert deliver(payload).status_code == 200

    invoice = Invoice.objects.get(pk=order.invoice_id)
    assert invoice.status == "refunded"
    assert sorted(LedgerTransaction.objects.values_list("kind", flat=True)) == ["payment", "refund"]
    assert order.invoice.refunds.get().rule == "refunded_in_gateway"


def test_partial_refund_in_stripe_makes_the_invoice_partially_refunded(order, fake_stripe):
    deliver(session_completed("evt_pay", order.invoice, intent="pi_9"))
    deliver(charge_refunded("evt_r1", intent="pi_9", refunded=500))
    assert Invoice.objects.get(pk=order.invoice_id).status == "partially_refunded"
    deliver(charge_refunded("evt_r2", intent="pi_9", refunded=1500))
    assert Invoice.objects.get(pk=order.invoice_id).status == "refunded"


def test_refund_to_the_original_payment_goes_through_stripe_once(alice, staff, order, fake_stripe):
    deliver(session_completed("evt_pay", order.invoice, intent="pi_9"))
    Order.objects.filter(pk=order.pk).update(status="rejected")  # never delivered
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "changed my mind"})
        .json_body
    )
    assert (refund["rule"], refund["eligible"]["amount"]) == ("never_delivered", 1500)

    answer = api_for(staff).post(f"/refunds/{refund['id']}/approve", {"destination": "original"})

    assert answer.status_code == 200, answer.json_body
    assert answer.json_body["status"] == "paid"
    path, form, headers = fake_stripe.requests[-1]
    assert (path, form["amount"], form["payment_intent"]) == ("/v1/refunds", ["1500"], ["pi_9"])
    assert headers["Idempotency-Key"] == f"licensary-refund-{refund['id']}"
    # Stripe then tells us about the refund we made: it is not counted twice.
    deliver(charge_refunded("evt_ref", intent="pi_9", refunded=1500))
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert Invoice.objects.get(pk=order.invoice_id).status == "refunded"
    assert account_credit(alice).amount == 0


def test_stripe_refusing_the_refund_leaves_it_for_staff(alice, staff, order, fake_stripe):
    deliver(session_completed("evt_pay", order.invoice, intent="pi_9"))
    Order.objects.filter(pk=order.pk).update(status="rejected")
    refund = (
        api_for(alice).post("/refunds", {"invoice": str(order.invoice_id), "reason": "r"}).json_body
    )
    fake_stripe.fail_next = 5
    answer = api_for(staff).post(f"/refunds/{refund['id']}/approve", {"destination": "original"})
    assert (answer.status_code, answer.json_body["code"]) == (502, "gateway_unavailable")
    assert api_for(staff).get(f"/refunds/{refund['id']}").json_body["status"] == "requested"
    assert not LedgerTransaction.objects.filter(kind="refund").exists()


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_deliveries_of_one_event_apply_once(alice, product, fake_stripe):
    require_postgres()
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    payload = session_completed("evt_1", order.invoice)
    signature = sign(payload)
    codes = run_concurrently(lambda _: deliver(payload, signature).status_code, 50)
    assert codes == [200] * 50
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert account_credit(alice).amount == 0


@pytest.mark.django_db(transaction=True)
def test_webhook_racing_pay_with_credit_pays_once(alice, staff, product, fake_stripe):
    require_postgres()
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    payload = session_completed("evt_1", order.invoice)
    signature = sign(payload)
    token_api = api_for(alice)

    def either(i: int):
        if i % 2:
            return deliver(payload, signature).status_code
        return token_api.post(f"/invoices/{order.invoice_id}/pay-with-credit").status_code

    codes = run_concurrently(either, 2)

    assert sorted(codes) in ([200, 200], [200, 409])
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    invoice = Invoice.objects.get(pk=order.invoice_id)
    assert invoice.status == "paid"
    # Whichever lost, no money is lost: 1500 of credit plus 1500 by Stripe paid one invoice.
    assert account_credit(alice).amount == 1500


def test_a_deposit_refunded_in_stripe_leaves_the_credit_not_the_sales(alice, fake_stripe):
    deposit = api_for(alice).post("/deposits", {"amount": 5000}).json_body
    invoice = Invoice.objects.get(pk=deposit["id"])
    deliver(session_completed("evt_dep", invoice, intent="pi_dep"))
    assert account_credit(alice).amount == 5000

    answer = deliver(charge_refunded("evt_ref", intent="pi_dep", refunded=5000))

    assert answer.json()["outcome"] == "applied"
    assert account_credit(alice).amount == 0  # not both the cash back and the credit
    assert Invoice.objects.get(pk=invoice.pk).status == "refunded"


def test_a_spent_deposit_refunded_in_stripe_is_left_for_staff(alice, product, fake_stripe):
    deposit = api_for(alice).post("/deposits", {"amount": 1500}).json_body
    deliver(session_completed("evt_dep", Invoice.objects.get(pk=deposit["id"]), intent="pi_d"))
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    answer = deliver(charge_refunded("evt_ref", intent="pi_d", refunded=1500))

    assert answer.json()["outcome"] == "mismatch"
    assert account_credit(alice).amount == 0


def test_money_that_went_to_credit_and_is_refunded_in_stripe_leaves_the_credit(
    alice, order, staff, fake_stripe
):
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    deliver(session_completed("evt_1", order.invoice, intent="pi_late"))  # credited
    assert account_credit(alice).amount == 1500

    for event_id in ("evt_r1", "evt_r2"):  # the same refund reported twice
        assert (
            deliver(charge_refunded(event_id, intent="pi_late", refunded=1500)).status_code == 200
        )

    assert account_credit(alice).amount == 0
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"


def test_stripe_unreachable_during_a_refund_leaves_it_approved_and_safe_to_repeat(
    alice, staff, order, fake_stripe, settings
):
    deliver(session_completed("evt_pay", order.invoice, intent="pi_9"))
    Order.objects.filter(pk=order.pk).update(status="rejected")
    refund = (
        api_for(alice).post("/refunds", {"invoice": str(order.invoice_id), "reason": "r"}).json_body
    )
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    lost = api_for(staff).post(f"/refunds/{refund['id']}/approve", {"destination": "original"})
    assert (lost.status_code, lost.json_body["code"]) == (502, "gateway_unreachable")
    assert api_for(staff).get(f"/refunds/{refund['id']}").json_body["status"] == "approved"

    settings.STRIPE_API_BASE = fake_stripe.url
    again = api_for(staff).post(f"/refunds/{refund['id']}/approve", {"destination": "original"})

    assert again.json_body["status"] == "paid"
    keys = {h["Idempotency-Key"] for p, _, h in fake_stripe.requests if p == "/v1/refunds"}
    assert keys == {f"licensary-refund-{refund['id']}"}
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
