"""Rule 7 with RELIABILITY "Money": a refund approved to the original payment and not yet
confirmed by the gateway is money on its way; nothing may promise it again."""

import pytest
from django.db.models import Sum

from licensary.billing.models import Invoice, Refund
from licensary.billing.refunds import refund_quote
from licensary.billing.services import invoice_refund_to_credit
from licensary.core.errors import InvalidTransition
from licensary.ledger.models import Posting
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, run_jobs
from tests.payments.fake_stripe import session_completed
from tests.payments.test_stripe import deliver

UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there


def refund_in_flight(alice, staff, product, fake_stripe, settings) -> Refund:
    """Alice paid 1,500 through Stripe; her problem is unresolvable, so 1,000 (all but the
    setup fee) is refundable; staff approved it to Stripe, which could not be reached."""
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    deliver(session_completed("evt_pay", order.invoice, intent="pi_1"))
    run_jobs()
    license_mark_unresolvable(license=License.objects.get(), actor=staff, note="kernel panic")
    asked = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "it never worked"})
        .json_body
    )
    assert asked["eligible"]["amount"] == 1000
    settings.STRIPE_API_BASE = UNREACHABLE
    lost = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})
    assert (lost.status_code, lost.json_body["code"]) == (502, "gateway_unreachable")
    refund = Refund.objects.get(pk=asked["id"])
    assert refund.status == "approved"
    settings.STRIPE_API_BASE = fake_stripe.url
    return refund


def refunded_in_ledger(invoice_id: int) -> int:
    return (
        Posting.objects.filter(
            transaction__invoice_id=invoice_id, transaction__kind="refund", amount__gt=0
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def test_rule7_a_refund_on_its_way_to_the_gateway_counts_as_refunded(
    alice, staff, product, fake_stripe, settings
):
    refund = refund_in_flight(alice, staff, product, fake_stripe, settings)
    invoice = Invoice.objects.get(pk=refund.invoice_id)

    assert refund_quote(invoice).eligible == 0
    again = api_for(alice).post("/refunds", {"invoice": str(invoice.pk), "reason": "again"})

    assert (again.status_code, again.json_body["code"]) == (409, "refund_in_flight")
    assert Refund.objects.count() == 1
    paid = api_for(staff).post(f"/refunds/{refund.pk}/approve", {"destination": "original"})
    assert paid.json_body["status"] == "paid"
    assert refunded_in_ledger(invoice.pk) == 1000  # never 2,000 back on a 1,500 invoice
    assert Invoice.objects.get(pk=invoice.pk).status == "partially_refunded"
    assert account_credit(alice).amount == 0


def test_rule7_money_on_its_way_to_the_gateway_is_not_refunded_again_to_credit(
    alice, staff, product, fake_stripe, settings
):
    refund = refund_in_flight(alice, staff, product, fake_stripe, settings)

    with pytest.raises(InvalidTransition):
        invoice_refund_to_credit(invoice=refund.invoice, amount=1000, reason="by hand", actor=staff)

    assert refunded_in_ledger(refund.invoice_id) == 0
    assert account_credit(alice).amount == 0
    assert Invoice.objects.get(pk=refund.invoice_id).status == "paid"
