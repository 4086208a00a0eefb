"""Rule 2: `ip_registered_here` holds an order for staff only when the product on that IP is
held by *another* account. An account that orders what it already holds is told at once to
renew instead (`409 ip_taken`); when two of its own orders for one IP are both paid (a race),
the second can never be delivered, so it is refunded in full to its credit, not held."""

from licensary.billing.models import Refund
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs


def test_rule2_ordering_what_the_account_already_holds_is_refused_up_front(alice, product, staff):
    give_credit(alice, 3000, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=first.invoice, actor=alice)
    run_jobs()
    lic = License.objects.get()

    refused = api_for(alice).post("/orders", {"product": "panel", "ip": PUBLIC_IP})

    assert (refused.status_code, refused.json_body["code"]) == (409, "ip_taken")
    assert f"license {lic.pk}" in refused.json_body["detail"]
    assert "renew" in refused.json_body["detail"]
    assert Order.objects.count() == 1
    assert account_credit(alice).amount == 1500


def test_rule2_a_second_paid_order_of_the_same_account_is_refunded_not_held(alice, product, staff):
    give_credit(alice, 3000, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    second = order_create(actor=alice, product=product, ip=PUBLIC_IP)  # before any license
    for order in (first, second):
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    assert account_credit(alice).amount == 0

    run_jobs()

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "completed"
    assert (second.status, second.hold_reason, second.held_at) == ("rejected", None, None)
    assert f"license {first.license_id}" in second.decision_note
    assert account_credit(alice).amount == 1500  # the second order's whole payment
    refund = Refund.objects.get(invoice=second.invoice)
    assert (refund.status, refund.eligible, refund.rule, refund.destination) == (
        "paid",
        1500,
        "never_delivered",
        "credit",
    )
    shown = api_for(alice).get(f"/orders/{second.pk}").json_body
    assert (shown["status"], shown["hold_reason"]) == ("rejected", None)
    assert api_for(staff).get("/review-queue").json_body["items"] == []


def test_rule2_another_accounts_license_on_the_ip_still_holds_the_order(alice, bob, product, staff):
    for account in (alice, bob):
        give_credit(account, 1500, staff)
        order = order_create(actor=account, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=order.invoice, actor=account)
    run_jobs()

    held = Order.objects.get(account=bob)
    assert (held.status, held.hold_reason) == ("on_hold", "ip_registered_here")
    assert account_credit(bob).amount == 0


def test_rule2_a_manufacturer_duplicate_is_refunded_and_buys_nothing_upstream(
    alice, cpanel, staff, north, south
):
    give_credit(alice, 2 * cpanel.price, staff)
    orders = [order_create(actor=alice, product=cpanel, ip=PUBLIC_IP) for _ in range(2)]
    for order in orders:
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    run_jobs()

    assert [Order.objects.get(pk=o.pk).status for o in orders] == ["completed", "rejected"]
    assert len(north.licenses()) == 1
    assert south.licenses() == []
    assert account_credit(alice).amount == cpanel.price


def test_rule7_an_own_duplicate_is_refunded_through_the_refund_service_superseding_a_request(
    alice, product, staff
):
    from licensary.audit.models import AuditEntry

    give_credit(alice, 3000, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    second = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    for order in (first, second):
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    asked = (
        api_for(alice)
        .post("/refunds", {"invoice": str(second.invoice_id), "reason": "ordered twice"})
        .json_body
    )

    run_jobs()

    assert Order.objects.get(pk=second.pk).status == "rejected"
    assert Refund.objects.get(pk=asked["id"]).status == "rejected"  # superseded
    paid = Refund.objects.get(invoice=second.invoice, status="paid")
    assert (paid.eligible, paid.rule, paid.destination) == (1500, "never_delivered", "credit")
    assert list(
        AuditEntry.objects.filter(object_type="refund", object_id=str(paid.pk)).values_list(
            "action", "actor_label"
        )
    ) == [("refund.requested", "system"), ("refund.approved", "system")]
    assert account_credit(alice).amount == 1500


def test_rule7_an_own_duplicate_whose_refund_must_wait_is_still_rejected_not_held(
    alice, product, staff, fake_stripe
):
    from licensary.billing.models import Invoice
    from tests.payments.fake_stripe import dispute, session_completed
    from tests.payments.test_stripe import deliver

    give_credit(alice, 1500, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=first.invoice, actor=alice)
    second = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    deliver(session_completed("evt_pay", second.invoice, intent="pi_2"))
    deliver(dispute("evt_dp", "charge.dispute.created", intent="pi_2"))

    run_jobs()

    second.refresh_from_db()
    assert (second.status, second.hold_reason) == ("rejected", None)
    assert Invoice.objects.get(pk=second.invoice_id).status == "paid"  # refund waits
    deliver(dispute("evt_dp2", "charge.dispute.closed", intent="pi_2", status="won"))
    from licensary.orders.services import refund_never_delivered

    refund_never_delivered.call(order_id=second.pk)
    assert Refund.objects.get(invoice=second.invoice).status == "paid"
    assert account_credit(alice).amount == 1500
