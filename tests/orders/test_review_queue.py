"""The staff review queue: held orders oldest first, aged against the 48-hour target."""

from datetime import timedelta

import pytest
import time_machine

from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs


def held_order(owner, intruder, product, staff) -> Order:
    for account in (owner, intruder):
        give_credit(account, 1500, staff)
        order = order_create(actor=account, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=order.invoice, actor=account)
        run_jobs()
    return Order.objects.get(account=intruder)


def test_order_for_an_ip_held_by_another_account_is_held_for_review(alice, bob, product, staff):
    order = held_order(alice, bob, product, staff)

    assert (order.status, order.hold_reason) == ("on_hold", "ip_registered_here")
    assert order.license is None
    assert License.objects.count() == 1


def test_held_order_is_overdue_at_48_hours_and_not_a_second_before(alice, bob, product, staff):
    order = held_order(alice, bob, product, staff)
    api = api_for(staff)

    with time_machine.travel(order.held_at + timedelta(hours=48, seconds=-1), tick=False):
        item = api.get("/review-queue").json_body["items"][0]
        assert (item["id"], item["overdue"]) == (str(order.pk), False)
        assert item["age_hours"] == 47.99
    with time_machine.travel(order.held_at + timedelta(hours=48), tick=False):
        item = api.get("/review-queue").json_body["items"][0]
        assert (item["overdue"], item["age_hours"]) == (True, 48.0)


def test_review_queue_lists_oldest_first_and_only_for_staff(
    alice, bob, charlie_like, product, staff
):
    first = held_order(alice, bob, product, staff)
    with time_machine.travel(first.held_at + timedelta(hours=1)):
        give_credit(charlie_like, 1500, staff)
        second = order_create(actor=charlie_like, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=second.invoice, actor=charlie_like)
        run_jobs()
    queue = api_for(staff).get("/review-queue").json_body["items"]
    assert [item["id"] for item in queue] == [str(first.pk), str(second.pk)]
    refused = api_for(alice).get("/review-queue")
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")


def test_rejected_held_order_is_refunded_in_full_to_credit(alice, bob, product, staff):
    order = held_order(alice, bob, product, staff)
    assert account_credit(bob).amount == 0

    answer = api_for(staff).post(f"/orders/{order.pk}/reject", {"note": "IP belongs to alice"})

    assert answer.status_code == 200
    assert answer.json_body["status"] == "rejected"
    assert account_credit(bob).amount == 1500
    order.invoice.refresh_from_db()
    assert order.invoice.status == "refunded"
    refunds = api_for(bob).get("/refunds").json_body["items"]
    assert [
        (r["status"], r["rule"], r["eligible"]["amount"], r["destination"]) for r in refunds
    ] == [("paid", "never_delivered", 1500, "credit")]


def test_approving_while_the_slot_is_live_is_refused(alice, bob, product, staff):
    order = held_order(alice, bob, product, staff)
    answer = api_for(staff).post(f"/orders/{order.pk}/approve", {"note": "try"})
    assert (answer.status_code, answer.json_body["code"]) == (409, "ip_taken")
    order.refresh_from_db()
    assert order.status == "on_hold"


def test_retry_delivers_once_the_slot_is_free_and_keeps_the_clock_otherwise(
    alice, bob, product, staff
):
    order = held_order(alice, bob, product, staff)
    held_at = order.held_at
    api = api_for(staff)
    assert api.post(f"/orders/{order.pk}/retry").json_body["status"] == "on_hold"
    order.refresh_from_db()
    assert order.held_at == held_at

    holder = License.objects.get(account=alice)
    with time_machine.travel(holder.period_end + timedelta(days=200), tick=False):
        answer = api.post(f"/orders/{order.pk}/retry")  # alice's license is past deletion
        assert answer.json_body["status"] == "completed"
    holder.refresh_from_db()
    assert holder.status == "deleted"


@pytest.mark.django_db(transaction=True)
def test_retry_and_cancel_work_outside_a_test_transaction(alice, bob, product, staff):
    """As in production: each request in autocommit, no test transaction around it."""
    order = held_order(alice, bob, product, staff)
    answer = api_for(staff).post(f"/orders/{order.pk}/retry")
    assert (answer.status_code, answer.json_body["status"]) == (200, "on_hold")
    unpaid = order_create(actor=bob, product=product, ip="151.101.1.70")
    canceled = api_for(bob).post(f"/orders/{unpaid.pk}/cancel")
    assert (canceled.status_code, canceled.json_body["status"]) == (200, "canceled")
