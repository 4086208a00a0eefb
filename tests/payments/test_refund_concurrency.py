"""Rule 14 under concurrency (PostgreSQL): a refund is booked once however many staff approve
it at once, and the money paths lock in one order, so none of them deadlocks or shows a 500."""

from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Refund
from licensary.billing.refunds import refund_approve
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.services import product_create
from licensary.core.errors import DomainError
from licensary.ledger.models import Posting
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, give_credit, run_jobs
from tests.payments.fake_stripe import session_completed
from tests.payments.test_stripe import deliver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def refunded_in_ledger(invoice_id: int) -> int:
    return (
        Posting.objects.filter(
            transaction__invoice_id=invoice_id, transaction__kind="refund", amount__gt=0
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def refund_of_500_on_1500(alice: User, staff: User, product: Any, ip: str) -> Refund:
    """Paid 1,500 through Stripe (500 price, 1,000 setup fee); the problem is unresolvable in
    the first period, so 500 is refundable: booked twice it would still fit in the invoice."""
    order = order_create(actor=alice, product=product, ip=ip)
    deliver(session_completed(f"evt_{ip}", order.invoice, intent=f"pi_{ip}"))
    run_jobs()
    license_mark_unresolvable(license=License.objects.get(ip=ip), actor=staff, note="broken")
    asked = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "unresolvable"})
        .json_body
    )
    assert asked["eligible"]["amount"] == 500
    return Refund.objects.get(pk=asked["id"])


@pytest.mark.parametrize("second", ["original", "credit"])
def test_rule14_two_staff_approving_one_gateway_refund_book_it_once(
    alice, staff, fake_stripe, second
):
    require_postgres()
    cheap = product_create(
        actor=staff,
        slug="agent-kit",
        name="Agent Kit",
        kind="own",
        price=500,
        setup_fee=1000,
        currency="USD",
    )
    to_credit = 0
    for ip in (PUBLIC_IP, OTHER_IP):  # two rounds: the race is lost at different moments
        refund = refund_of_500_on_1500(alice, staff, cheap, ip)
        calls_before = sum(1 for path, *_ in fake_stripe.requests if path == "/v1/refunds")

        def approve(i: int, refund: Refund = refund) -> Refund:
            return refund_approve(
                refund=refund, actor=staff, destination="original" if i == 0 else second
            )

        results = run_concurrently(approve, 2)

        unexpected = [e for e in errors(results) if not isinstance(e, DomainError)]
        assert not unexpected, unexpected
        assert {e.code for e in errors(results)} <= {"refund_in_flight", "invalid_transition"}
        refund.refresh_from_db()
        assert refund.status == "paid"
        assert refunded_in_ledger(refund.invoice_id) == 500
        assert Invoice.objects.get(pk=refund.invoice_id).status == "partially_refunded"
        calls = sum(1 for path, *_ in fake_stripe.requests if path == "/v1/refunds")
        # Whichever decision took the lock first won; the gateway is asked once, if at all.
        assert calls - calls_before == (1 if refund.destination == "original" else 0)
        to_credit += refund.eligible if refund.destination == "credit" else 0
    assert account_credit(alice).amount == to_credit


@pytest.fixture
def console(db: Any) -> Client:
    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    client = Client()
    client.force_login(root)
    return client


def test_rule14_rejecting_a_held_order_racing_its_buyer_never_deadlocks(
    alice, bob, product, staff, console
):
    require_postgres()
    give_credit(alice, 1500, staff)
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=first.invoice, actor=alice)
    run_jobs()
    bob_api = api_for(bob)
    for other_ip in ("151.101.1.69", "151.101.65.69", "151.101.129.69"):
        give_credit(bob, 3000, staff)
        held = order_create(actor=bob, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=held.invoice, actor=bob)
        run_jobs()
        assert Order.objects.get(pk=held.pk).status == "on_hold"
        unpaid = order_create(actor=bob, product=product, ip=other_ip)
        credit_before = account_credit(bob).amount

        def race(i: int, held: Order = held, unpaid: Order = unpaid) -> Any:
            if i == 0:  # staff, in the admin console
                return console.post(
                    "/admin/orders/order/",
                    {"action": "reject", "_selected_action": [held.pk]},
                    follow=True,
                )
            if i == 1:  # the buyer tries to cancel the held order meanwhile
                return bob_api.post(f"/orders/{held.pk}/cancel")
            return bob_api.post(f"/invoices/{unpaid.invoice_id}/pay-with-credit")

        page, cancel, pay = run_concurrently(race, 3)

        assert not errors([page, cancel, pay]), errors([page, cancel, pay])
        assert page.status_code == 200
        assert f"Order {held.pk}: rejected." in page.content.decode()
        assert (cancel.status_code, cancel.json_body["code"]) == (409, "invalid_transition")
        assert pay.status_code == 200, pay.json_body
        assert account_credit(bob).amount == credit_before + 1500 - 1500


def test_rule14_refund_approvals_in_the_admin_racing_payments_never_deadlock(
    alice, staff, product, console, fake_stripe
):
    require_postgres()
    cheap = product_create(
        actor=staff,
        slug="agent-kit",
        name="Agent Kit",
        kind="own",
        price=500,
        setup_fee=1000,
        currency="USD",
    )
    to_gateway = refund_of_500_on_1500(alice, staff, cheap, PUBLIC_IP)
    to_credit = refund_of_500_on_1500(alice, staff, cheap, OTHER_IP)
    give_credit(alice, 1500, staff)
    unpaid = order_create(actor=alice, product=product, ip="151.101.1.69")
    alice_api, staff_api = api_for(alice), api_for(staff)

    def race(i: int) -> Any:
        if i == 0:
            return console.post(
                "/admin/billing/refund/",
                {"action": "approve_to_original", "_selected_action": [to_gateway.pk]},
                follow=True,
            )
        if i == 1:
            return console.post(
                "/admin/billing/refund/",
                {"action": "approve_to_credit", "_selected_action": [to_credit.pk]},
                follow=True,
            )
        if i == 2:
            return alice_api.post(f"/invoices/{unpaid.invoice_id}/pay-with-credit")
        return staff_api.post(f"/accounts/{alice.pk}/credit", {"amount": 100, "note": "goodwill"})

    results = run_concurrently(race, 4)

    assert not errors(results), errors(results)
    assert [r.status_code for r in results] == [200, 200, 200, 200], [
        getattr(r, "json_body", None) for r in results
    ]
    assert {Refund.objects.get(pk=r.pk).status for r in (to_gateway, to_credit)} == {"paid"}
    assert (
        refunded_in_ledger(to_gateway.invoice_id) == refunded_in_ledger(to_credit.invoice_id) == 500
    )
    assert Invoice.objects.get(pk=unpaid.invoice_id).status == "paid"
    assert account_credit(alice).amount == 1500 + 500 + 100 - 1500
