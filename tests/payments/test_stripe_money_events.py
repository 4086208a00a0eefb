"""Every Stripe event that moves money moves it in the ledger, once, in any order (rules 8, 14):
a delayed payment method that clears (`checkout.session.async_payment_succeeded`) pays the
invoice; a chargeback (`charge.dispute.*`) holds the disputed money apart, gives it back when
won and makes it final when lost, telling staff each time."""

import itertools

import pytest
from django.test import Client

from licensary.audit.models import AuditEntry
from licensary.billing.models import GatewayEvent, Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.models import LedgerAccount, LedgerTransaction
from licensary.ledger.services import account_credit, balance
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs
from tests.payments.fake_stripe import (
    dispute,
    session_async_succeeded,
    session_completed,
    session_completed_unpaid,
    sign,
)

GATEWAY, HELD, SALES = "gateway:stripe:USD", "gateway:stripe:disputes:USD", "sales:USD"


def deliver(payload: str):
    return Client().post(
        "/api/v1/gateways/stripe/webhook",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload),
    )


def book(key: str) -> int:
    found = LedgerAccount.objects.filter(key=key).first()
    return balance(found) if found else 0


def dispute_row():
    from licensary.billing.models import Dispute

    return Dispute.objects.get()


@pytest.fixture
def order(alice, product) -> Order:
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
def test_rule8_one_payment_reported_by_two_events_is_money_once(alice, order, fake_stripe, second):
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


# Disputes ----------------------------------------------------------------------------------


def test_rule14_a_dispute_holds_the_disputed_money_through_the_ledger(alice, order, fake_stripe):
    paid_by_stripe(order)

    answer = deliver(dispute("evt_dp1", "charge.dispute.created"))

    assert (answer.status_code, answer.json()["outcome"]) == (200, "applied")
    hold = LedgerTransaction.objects.get(kind="dispute_hold")
    assert sorted(hold.postings.values_list("account__key", "amount")) == [
        (GATEWAY, 1500),
        (HELD, -1500),
    ]
    assert (book(GATEWAY), book(HELD), book(SALES)) == (0, -1500, 1500)
    found = dispute_row()
    assert (found.state, found.amount, found.invoice_id, found.payment.reference) == (
        "open",
        1500,
        order.invoice_id,
        "pi_1",
    )
    assert found.needs_staff
    entry = AuditEntry.objects.get(action="payment.disputed")
    assert (entry.object_type, entry.object_id) == ("invoice", str(order.invoice_id))
    assert entry.after["amount"] == 1500
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"  # not decided yet


def test_rule14_a_won_dispute_gives_the_held_money_back(alice, order, fake_stripe):
    paid_by_stripe(order)
    deliver(dispute("evt_dp1", "charge.dispute.created"))

    answer = deliver(dispute("evt_dp2", "charge.dispute.closed", status="won"))

    assert answer.json()["outcome"] == "applied"
    assert (book(GATEWAY), book(HELD), book(SALES)) == (-1500, 0, 1500)
    assert dispute_row().state == "won"
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert AuditEntry.objects.filter(action="payment.dispute_won").count() == 1


def test_rule14_a_lost_dispute_is_final_and_its_license_is_flagged_for_staff(
    alice, order, fake_stripe
):
    paid_by_stripe(order)
    run_jobs()
    order.refresh_from_db()
    deliver(dispute("evt_dp1", "charge.dispute.created"))

    answer = deliver(dispute("evt_dp2", "charge.dispute.closed", status="lost"))

    assert answer.json()["outcome"] == "applied"
    assert (book(GATEWAY), book(HELD), book(SALES)) == (0, 0, 0)
    assert Invoice.objects.get(pk=order.invoice_id).status == "refunded"
    found = dispute_row()
    assert (found.state, found.needs_staff) == ("lost", True)
    entry = AuditEntry.objects.get(action="payment.dispute_lost")
    assert entry.after["licenses"] == [order.license_id]
    # Blocking a customer's server is staff's decision (rule 6): flagged, not done silently.
    assert License.objects.get(pk=order.license_id).status == "active"
    # The money is gone: nothing of this invoice is refundable again.
    refund = api_for(alice).post("/refunds", {"invoice": str(order.invoice_id), "reason": "again"})
    assert refund.status_code in (201, 409)
    if refund.status_code == 201:
        assert refund.json_body["eligible"]["amount"] == 0


def test_a_partial_dispute_lost_partially_refunds_the_invoice(alice, order, fake_stripe):
    paid_by_stripe(order)
    deliver(dispute("evt_dp1", "charge.dispute.created", amount=500))
    deliver(dispute("evt_dp2", "charge.dispute.closed", amount=500, status="lost"))

    assert (book(GATEWAY), book(HELD), book(SALES)) == (-1000, 0, 1000)
    assert Invoice.objects.get(pk=order.invoice_id).status == "partially_refunded"


def test_an_inquiry_moves_no_money_and_its_closing_neither(alice, order, fake_stripe):
    paid_by_stripe(order)

    deliver(dispute("evt_dp1", "charge.dispute.created", status="warning_needs_response"))
    assert (dispute_row().state, book(HELD), book(GATEWAY)) == ("inquiry", 0, -1500)
    deliver(dispute("evt_dp2", "charge.dispute.closed", status="warning_closed"))

    assert (dispute_row().state, book(HELD), book(GATEWAY)) == ("closed", 0, -1500)
    assert not LedgerTransaction.objects.exclude(kind="payment").exists()


def test_an_inquiry_that_becomes_a_chargeback_holds_the_money_then(alice, order, fake_stripe):
    paid_by_stripe(order)
    deliver(dispute("evt_dp1", "charge.dispute.created", status="warning_needs_response"))

    deliver(dispute("evt_dp2", "charge.dispute.funds_withdrawn", status="needs_response"))

    assert (dispute_row().state, book(HELD)) == ("open", -1500)


def test_a_dispute_event_replayed_moves_money_once(alice, order, fake_stripe):
    paid_by_stripe(order)
    created = dispute("evt_dp1", "charge.dispute.created")
    closed = dispute("evt_dp2", "charge.dispute.closed", status="lost")
    for payload in (created, created, closed, closed, created):
        assert deliver(payload).status_code == 200

    assert sorted(LedgerTransaction.objects.values_list("kind", flat=True)) == [
        "dispute_hold",
        "payment",
        "refund",
    ]
    assert (book(GATEWAY), book(HELD), book(SALES)) == (0, 0, 0)
    assert dispute_row().state == "lost"


def _final_state(alice) -> tuple:
    return (
        Invoice.objects.get().status,
        dispute_row().state,
        book(GATEWAY),
        book(HELD),
        book(SALES),
        account_credit(alice).amount,
        sorted(LedgerTransaction.objects.values_list("kind", flat=True)),
    )


IN_ORDER = {
    "won": ("paid", "won", -1500, 0, 1500, 0, ["dispute_hold", "dispute_won", "payment"]),
    "lost": ("refunded", "lost", 0, 0, 0, 0, ["dispute_hold", "payment", "refund"]),
}


@pytest.mark.parametrize("outcome", ["won", "lost"])
@pytest.mark.parametrize(
    "steps", list(itertools.permutations(["pay", "created", "closed"])), ids="-".join
)
def test_rule8_payment_and_dispute_events_end_the_same_in_any_order(
    alice, order, outcome, steps, fake_stripe
):
    payloads = {
        "pay": session_completed("evt_pay", order.invoice),
        "created": dispute("evt_dp1", "charge.dispute.created"),
        "closed": dispute("evt_dp2", "charge.dispute.closed", status=outcome),
    }

    for step in steps:
        assert deliver(payloads[step]).status_code == 200

    assert _final_state(alice) == IN_ORDER[outcome]
    assert GatewayEvent.objects.filter(outcome="deferred").count() == 0


def test_a_dispute_of_a_payment_that_went_to_credit_takes_it_from_the_credit(
    alice, staff, order, fake_stripe
):
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    deliver(session_completed("evt_pay", order.invoice, intent="pi_late"))  # credited
    assert account_credit(alice).amount == 1500

    deliver(dispute("evt_dp1", "charge.dispute.created", intent="pi_late"))
    deliver(dispute("evt_dp2", "charge.dispute.closed", intent="pi_late", status="lost"))

    assert account_credit(alice).amount == 0
    assert (book(GATEWAY), book(HELD)) == (0, 0)
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"  # paid with credit


def test_a_lost_dispute_of_a_spent_deposit_stays_held_for_staff(alice, product, fake_stripe):
    deposit = api_for(alice).post("/deposits", {"amount": 1500}).json_body
    invoice = Invoice.objects.get(pk=deposit["id"])
    deliver(session_completed("evt_dep", invoice, intent="pi_dep"))
    spent = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=spent.invoice, actor=alice)
    deliver(dispute("evt_dp1", "charge.dispute.created", intent="pi_dep"))

    answer = deliver(dispute("evt_dp2", "charge.dispute.closed", intent="pi_dep", status="lost"))

    assert answer.json()["outcome"] == "mismatch"
    found = dispute_row()
    assert (found.state, found.needs_staff) == ("lost", True)
    assert "credit" in found.note
    assert (book(HELD), account_credit(alice).amount) == (-1500, 0)  # still held, for staff


def test_a_dispute_in_another_currency_is_left_for_staff(alice, order, fake_stripe):
    paid_by_stripe(order)

    answer = deliver(dispute("evt_dp1", "charge.dispute.created", currency="eur"))

    assert answer.json()["outcome"] == "mismatch"
    assert book(HELD) == 0
    assert dispute_row().needs_staff


@pytest.mark.django_db(transaction=True)
def test_rule8_dispute_events_delivered_many_times_at_once_move_money_once(
    alice, product, fake_stripe
):
    require_postgres()
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    paid_by_stripe(order)
    payloads = [
        dispute("evt_dp1", "charge.dispute.created"),
        dispute("evt_dp2", "charge.dispute.funds_withdrawn"),
        dispute("evt_dp3", "charge.dispute.closed", status="lost"),
    ]
    signatures = [sign(p) for p in payloads]

    def send(i: int) -> int:
        payload, signature = payloads[i % 3], signatures[i % 3]
        return (
            Client()
            .post(
                "/api/v1/gateways/stripe/webhook",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )
            .status_code
        )

    codes = run_concurrently(send, 24)

    assert codes == [200] * 24
    assert sorted(LedgerTransaction.objects.values_list("kind", flat=True)) == [
        "dispute_hold",
        "payment",
        "refund",
    ]
    assert (book(GATEWAY), book(HELD), book(SALES)) == (0, 0, 0)
    assert dispute_row().state == "lost"


@pytest.mark.django_db(transaction=True)
def test_rule8_a_dispute_racing_its_payment_is_never_left_behind(
    alice, product, fake_stripe, monkeypatch
):
    """The dispute's transaction finds no payment yet and is slow to commit; meanwhile the
    payment's transaction looks for disputes that came first and finds none. Unless the two
    are applied one after the other, the dispute stays deferred for ever."""
    import time

    from licensary.billing import services

    require_postgres()
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    payloads = [
        dispute("evt_dp1", "charge.dispute.created"),
        session_completed("evt_pay", order.invoice),
    ]
    signatures = [sign(p) for p in payloads]
    found = services._disputed_payment

    def slow_when_unknown(gateway: str, reference: str):
        payment, invoice = found(gateway, reference)
        if invoice is None:
            time.sleep(1.0)
        return payment, invoice

    monkeypatch.setattr(services, "_disputed_payment", slow_when_unknown)

    def send(i: int) -> int:
        if i:
            time.sleep(0.2)  # the dispute is read first
        return (
            Client()
            .post(
                "/api/v1/gateways/stripe/webhook",
                data=payloads[i],
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signatures[i],
            )
            .status_code
        )

    codes = run_concurrently(send, 2)

    assert codes == [200, 200]
    assert not GatewayEvent.objects.filter(outcome="deferred").exists()
    assert (dispute_row().state, book(HELD)) == ("open", -1500)


def test_staff_see_disputes_on_the_invoice_and_in_their_list_and_mark_them_handled(
    alice, order, fake_stripe
):
    from licensary.accounts.models import User

    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    console = Client()
    console.force_login(root)
    paid_by_stripe(order)
    deliver(dispute("evt_dp1", "charge.dispute.created"))
    found = dispute_row()

    waiting = console.get("/admin/billing/dispute/?needs_staff__exact=1")
    invoice_page = console.get(f"/admin/billing/invoice/{order.invoice_id}/change/")
    handled = console.post(
        "/admin/billing/dispute/",
        {"action": "mark_handled", "_selected_action": [found.pk]},
        follow=True,
    )

    assert [d.pk for d in waiting.context["cl"].result_list] == [found.pk]
    assert b"dp_1" in invoice_page.content
    assert handled.status_code == 200
    found.refresh_from_db()
    assert (found.needs_staff, found.state) == (False, "open")
    assert AuditEntry.objects.filter(action="dispute.handled").count() == 1
    assert book(HELD) == -1500  # handling moves no money


def test_a_lost_dispute_beyond_what_was_refunded_takes_the_rest_from_the_credit(
    alice, staff, order, fake_stripe
):
    from licensary.billing.services import invoice_refund_to_credit

    paid_by_stripe(order)
    invoice_refund_to_credit(invoice=order.invoice, amount=500, reason="goodwill", actor=staff)
    deliver(dispute("evt_dp1", "charge.dispute.created"))

    deliver(dispute("evt_dp2", "charge.dispute.closed", status="lost"))

    assert Invoice.objects.get(pk=order.invoice_id).status == "refunded"
    assert (book(SALES), book(HELD), account_credit(alice).amount) == (0, 0, 0)
    entry = AuditEntry.objects.get(action="payment.dispute_lost")
    assert (entry.after["from_invoice"], entry.after["from_credit"]) == (1000, 500)


def test_a_refund_before_its_payment_that_went_to_credit_leaves_the_credit(
    alice, staff, order, fake_stripe
):
    from tests.payments.fake_stripe import charge_refunded

    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    assert (
        deliver(charge_refunded("evt_ref", intent="pi_late", refunded=1500)).json()["outcome"]
        == "deferred"
    )

    deliver(session_completed("evt_pay", order.invoice, intent="pi_late"))  # credited

    assert account_credit(alice).amount == 0
    assert GatewayEvent.objects.get(event_id="evt_ref").outcome == "applied"


def test_rule7_a_disputed_payment_is_not_refunded_while_the_gateway_holds_its_money(
    alice, staff, order, fake_stripe
):
    paid_by_stripe(order)
    run_jobs()
    license_mark_unresolvable(license=License.objects.get(), actor=staff, note="kernel panic")
    asked = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "it never worked"})
        .json_body
    )
    deliver(dispute("evt_dp1", "charge.dispute.created"))

    held = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "credit"})

    assert (held.status_code, held.json_body["code"]) == (409, "invoice_disputed")
    assert account_credit(alice).amount == 0
    assert (book(GATEWAY), book(HELD)) == (0, -1500)
    deliver(dispute("evt_dp2", "charge.dispute.closed", status="won"))
    paid = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "credit"})
    assert paid.json_body["status"] == "paid"
    assert account_credit(alice).amount == 1000


UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there


def refund_on_its_way(alice, staff, order, settings):
    """Alice paid 1,500 by Stripe; staff approved the 1,000 the policy allows to Stripe, which
    could not be reached: the refund is approved, on its way."""
    paid_by_stripe(order)
    run_jobs()
    license_mark_unresolvable(license=License.objects.get(), actor=staff, note="kernel panic")
    asked = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "it never worked"})
        .json_body
    )
    base, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, UNREACHABLE
    lost = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})
    assert lost.json_body["code"] == "gateway_unreachable"
    settings.STRIPE_API_BASE = base
    return asked


def refunded_from(invoice_id: int) -> int:
    from licensary.billing.services import invoice_refunded_amount

    return invoice_refunded_amount(Invoice.objects.get(pk=invoice_id))


def test_rule7_a_refund_the_gateway_paid_is_booked_though_a_dispute_opened_meanwhile(
    alice, staff, order, fake_stripe, settings
):
    asked = refund_on_its_way(alice, staff, order, settings)
    deliver(dispute("evt_dp1", "charge.dispute.created", amount=500))

    again = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert again.status_code == 200, again.json_body
    assert again.json_body["status"] == "paid"
    assert refunded_from(order.invoice_id) == 1000
    assert (book(GATEWAY), book(HELD)) == (0, -500)  # 1,500 in; 500 held, 1,000 refunded


def test_rule14_a_lost_dispute_counts_the_refund_on_its_way_and_never_takes_more_than_paid(
    alice, staff, order, fake_stripe, settings
):
    asked = refund_on_its_way(alice, staff, order, settings)
    give_credit(alice, 1000, staff)
    deliver(dispute("evt_dp1", "charge.dispute.created"))
    deliver(dispute("evt_dp2", "charge.dispute.closed", status="lost"))
    assert refunded_from(order.invoice_id) == 500  # 1,000 of it is on its way back already

    again = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert again.json_body["status"] == "paid", again.json_body
    assert refunded_from(order.invoice_id) == 1500  # chargeback and refund: what was paid
    assert Invoice.objects.get(pk=order.invoice_id).status == "refunded"
    assert account_credit(alice).amount == 0  # the chargeback beyond the invoice left credit


def test_rule7_a_refund_paid_out_but_refused_by_the_books_is_flagged_for_staff(
    alice, staff, order, fake_stripe, settings, monkeypatch
):
    from licensary.billing import refunds
    from licensary.billing.models import Refund
    from licensary.core.errors import InvalidTransition

    asked = refund_on_its_way(alice, staff, order, settings)

    def refuse(**kwargs):
        raise InvalidTransition("the books refuse it")

    monkeypatch.setattr(refunds, "invoice_record_gateway_refund", refuse)
    again = api_for(staff).post(f"/refunds/{asked['id']}/approve", {"destination": "original"})

    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")
    refund = Refund.objects.get(pk=asked["id"])
    assert (refund.status, refund.needs_staff, refund.gateway_call_at) == ("approved", True, None)
    assert "the books refuse it" in refund.decision_note
    assert (
        AuditEntry.objects.filter(action="refund.booking_refused", object_id=str(refund.pk)).count()
        == 1
    )
