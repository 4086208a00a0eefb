"""Rule 7 with RELIABILITY "Money": a refund is paid once within what the policy allows at the
moment it is paid. Stripe's 5xx, a lost connection or "idempotency key in use" say nothing
about whether it refunded: the refund stays approved (counted as refunded), to be repeated
with the same key; only a definite 4xx refusal puts it back in staff's queue. And approval
pays what the policy allows then, not what it allowed when the refund was asked for."""

import pytest

from licensary.billing.models import Invoice, Refund
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, run_jobs
from tests.payments.fake_stripe import charge_refunded, session_completed
from tests.payments.test_stripe import deliver


@pytest.fixture
def tool(staff) -> Product:
    """500 for the license and 1,000 for the setup fee: within the first period an
    unresolvable problem refunds 500 (everything less the setup fee)."""
    return product_create(
        actor=staff, slug="tool", name="Tool", kind="own", price=500, setup_fee=1000, currency="USD"
    )


@pytest.fixture
def asked(alice, staff, tool, fake_stripe) -> dict:
    """Alice paid 1,500 through Stripe (pi_1) and asked for the 500 the policy allows."""
    order = order_create(actor=alice, product=tool, ip=PUBLIC_IP)
    deliver(session_completed("evt_pay", order.invoice, intent="pi_1"))
    run_jobs()
    license_mark_unresolvable(license=License.objects.get(), actor=staff, note="kernel panic")
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "it never worked"})
        .json_body
    )
    assert refund["eligible"]["amount"] == 500
    return refund


def refunds_booked(invoice_id: int) -> int:
    return LedgerTransaction.objects.filter(invoice_id=invoice_id, kind="refund").count()


def test_rule7_a_stripe_5xx_after_refunding_leaves_the_refund_approved_not_paid_twice(
    alice, staff, asked, fake_stripe
):
    fake_stripe.refund_then_fail = 1  # Stripe refunds, then answers 500 (replayed for the key)

    lost = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert (lost.status_code, lost.json_body["code"]) == (502, "gateway_outcome_unknown")
    assert Refund.objects.get(pk=asked["id"]).status == "approved"
    deliver(charge_refunded("evt_ref", intent="pi_1", refunded=500))
    again = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "credit"})
    assert (again.status_code, again.json_body["code"]) == (409, "refund_in_flight")
    assert account_credit(alice).amount == 0
    assert len(fake_stripe.refunds) == 1
    invoice = Invoice.objects.get(refunds__pk=asked["id"])
    assert refunds_booked(invoice.pk) == 0  # Stripe's refund is on its way, not booked twice


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, {"type": "api_error", "message": "internal"}),
        (503, {"type": "api_error", "message": "unavailable"}),
        (
            409,
            {
                "type": "invalid_request_error",
                "code": "idempotency_key_in_use",
                "message": "There is currently another in-progress request using this key.",
            },
        ),
    ],
)
def test_rule7_a_stripe_answer_that_may_hide_a_refund_is_no_refusal(
    staff, asked, fake_stripe, status, error
):
    fake_stripe.fail_next, fake_stripe.fail_status, fake_stripe.fail_error = 9, status, error

    lost = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert (lost.status_code, lost.json_body["code"]) == (502, "gateway_outcome_unknown")
    assert Refund.objects.get(pk=asked["id"]).status == "approved"


def test_rule7_a_definite_refusal_puts_the_refund_back_for_staff(staff, asked, fake_stripe):
    fake_stripe.fail_next = 9
    fake_stripe.fail_status = 400
    fake_stripe.fail_error = {"type": "invalid_request_error", "message": "charge disputed"}

    refused = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert (refused.status_code, refused.json_body["code"]) == (502, "gateway_unavailable")
    assert Refund.objects.get(pk=asked["id"]).status == "requested"


def test_rule7_approval_pays_what_the_policy_allows_now_not_at_request_time(
    alice, staff, asked, fake_stripe
):
    # While the request waits, 500 is refunded in Stripe's dashboard: the policy's 500 is gone.
    deliver(charge_refunded("evt_ref", intent="pi_1", refunded=500))

    late = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "credit"})

    assert (late.status_code, late.json_body["code"]) == (409, "invalid_transition")
    assert account_credit(alice).amount == 0
    assert Refund.objects.get(pk=asked["id"]).status == "requested"


def test_rule7_approval_records_the_amount_quoted_again(alice, staff, asked, fake_stripe):
    refund = Refund.objects.get(pk=asked["id"])
    Refund.objects.filter(pk=refund.pk).update(eligible=1500)  # a stale, larger quote

    paid = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "credit"})

    assert paid.json_body["status"] == "paid"
    assert account_credit(alice).amount == 500
    refund.refresh_from_db()
    assert (refund.eligible, refund.rule) == (500, "own_unresolvable_less_setup_fee")
    assert Order.objects.get().status == "completed"


def test_rule8_the_refunded_webhook_settles_the_approved_refund_it_names(
    alice, staff, asked, fake_stripe
):
    fake_stripe.refund_then_fail = 1
    api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})
    made = list(fake_stripe.refunds.values())
    assert made[0]["metadata"] == {"licensary_refund": str(asked["id"])}

    for event_id in ("evt_ref", "evt_ref_again"):
        deliver(charge_refunded(event_id, intent="pi_1", refunded=500, refunds=made))

    refund = Refund.objects.get(pk=asked["id"])
    assert (refund.status, refund.gateway_reference) == ("paid", made[0]["id"])
    assert refunds_booked(refund.invoice_id) == 1
    assert Refund.objects.filter(invoice_id=refund.invoice_id).count() == 1


def test_rule8_a_refund_repeated_after_the_gateway_forgot_its_key_is_found_not_made_again(
    alice, staff, asked, fake_stripe
):
    from datetime import timedelta

    fake_stripe.refund_then_fail = 1
    api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})
    refund = Refund.objects.get(pk=asked["id"])
    Refund.objects.filter(pk=refund.pk).update(decided_at=refund.decided_at - timedelta(hours=25))
    fake_stripe.prune_idempotency_keys()

    again = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert again.json_body["status"] == "paid", again.json_body
    assert len(fake_stripe.refunds) == 1
    assert refunds_booked(refund.invoice_id) == 1
