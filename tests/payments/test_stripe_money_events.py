"""Every Stripe event that moves money moves it in the ledger, once, in any order (rules 8, 14):
a delayed payment method that clears (`checkout.session.async_payment_succeeded`) pays the
invoice."""


import pytest
from django.test import Client

from licensary.billing.models import GatewayEvent, Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.models import LedgerAccount, LedgerTransaction
from licensary.ledger.services import account_credit, balance
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, give_credit, run_jobs
from tests.payments.fake_stripe import (
    session_async_succeeded,
    session_completed,
    session_completed_unpaid,
    sign,
)

GATEWAY, HELD, SALES = "gateway:stripe:USD", "gateway:stripe:disputes:USD", "sales:USD"


def deliver(payload: str):  # noqa: ANN201
    return Client().post("/api/v1/gateways/stripe/webhook", data=payload,
                         content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload))


def book(key: str) -> int:
    found = LedgerAccount.objects.filter(key=key).first()
    return balance(found) if found else 0


def dispute_row():  # noqa: ANN201
    from licensary.billing.models import Dispute

    return Dispute.objects.get()


@pytest.fixture
def order(alice, product) -> Order:  # noqa: ANN001
    return order_create(actor=alice, product=product, ip=PUBLIC_IP)


def paid_by_stripe(order: Order) -> None:
    assert deliver(session_completed("evt_pay", order.invoice)).json()["outcome"] == "applied"


# Delayed payment methods -------------------------------------------------------------------

def test_rule8_async_payment_succeeded_pays_the_invoice_and_delivers(alice, order, fake_stripe):
    pending = deliver(session_completed_unpaid("evt_done", order.invoice))
    assert pending.json()["outcome"] == "ignored"
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"

    cleared = deliver(session_async_succeeded("evt_cleared", order.invoice))

    assert (cleared.status_code, cleared.json()["outcome"]) == (200, "applied")
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    payment = Payment.objects.get()
    assert (payment.amount, payment.gateway, payment.reference) == (1500, "stripe", "pi_1")
    run_jobs()
    assert Order.objects.get(pk=order.pk).status == "completed"


def test_a_completed_session_still_unpaid_pays_nothing(alice, order, fake_stripe):
    for _ in range(2):
        assert deliver(session_completed_unpaid("evt_done", order.invoice)).status_code == 200

    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"
    assert not Payment.objects.exists()
    assert not LedgerTransaction.objects.filter(kind="payment").exists()


@pytest.mark.parametrize("second", [session_async_succeeded, session_completed])
def test_rule8_one_payment_reported_by_two_events_is_money_once(alice, order, fake_stripe,
                                                                second):
    deliver(session_completed("evt_done", order.invoice, intent="pi_1"))

    again = deliver(second("evt_again", order.invoice, intent="pi_1"))

    assert again.json()["outcome"] == "ignored"
    assert Payment.objects.count() == 1
    assert account_credit(alice).amount == 0  # not credited a second time
    assert LedgerTransaction.objects.count() == 1


def test_async_payment_succeeded_replayed_is_applied_once(alice, order, fake_stripe):
    payload = session_async_succeeded("evt_cleared", order.invoice)
    for _ in range(3):
        deliver(payload)
    assert Payment.objects.count() == 1
    assert account_credit(alice).amount == 0


def test_a_refund_before_its_payment_that_went_to_credit_leaves_the_credit(alice, staff,
                                                                           order, fake_stripe):
    from tests.payments.fake_stripe import charge_refunded

    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    assert deliver(charge_refunded("evt_ref", intent="pi_late",
                                   refunded=1500)).json()["outcome"] == "deferred"

    deliver(session_completed("evt_pay", order.invoice, intent="pi_late"))  # credited

    assert account_credit(alice).amount == 0
    assert GatewayEvent.objects.get(event_id="evt_ref").outcome == "applied"
