"""Rule 7: after a full period with an unresolvable problem, only the current period is
refunded: once, on the invoice that paid for it, by what was paid for it."""

from datetime import timedelta

import time_machine

from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.services import product_update
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable, license_renewal_invoice
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs


def renewed_once(alice, product, staff) -> tuple[License, Invoice, Invoice]:
    """Alice's license: ordered (1,000 + 500 setup fee), renewed on day 25 for days 30-60
    (1,000), and its problem marked unresolvable."""
    give_credit(alice, 2500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    lic = License.objects.get()
    with time_machine.travel(lic.created_at + timedelta(days=25)):
        renewal = license_renewal_invoice(license=lic, actor=alice)
        invoice_pay_with_credit(invoice=renewal, actor=alice)
    license_mark_unresolvable(license=lic, actor=staff, note="breaks on every update")
    return lic, Invoice.objects.get(pk=order.invoice_id), Invoice.objects.get(pk=renewal.pk)


def quote(account, invoice: Invoice) -> tuple[int, str]:
    answer = (
        api_for(account)
        .post("/refunds", {"invoice": str(invoice.pk), "reason": "unresolvable"})
        .json_body
    )
    return answer["eligible"]["amount"], answer["rule"]


def test_rule7_after_a_full_period_only_the_invoice_of_the_current_period_is_refunded(
    alice, product, staff
):
    lic, first, renewal = renewed_once(alice, product, staff)

    with time_machine.travel(lic.created_at + timedelta(days=35)):
        offered = {"first": quote(alice, first), "renewal": quote(alice, renewal)}

    assert offered == {
        "first": (0, "own_unresolvable_not_current_period"),
        "renewal": (1000, "own_unresolvable_current_period"),
    }


def test_rule7_the_current_period_is_refunded_by_what_was_paid_not_todays_price(
    alice, product, staff
):
    lic, _, renewal = renewed_once(alice, product, staff)
    product_update(product=product, actor=staff, price=800)

    with time_machine.travel(lic.created_at + timedelta(days=35)):
        offered = quote(alice, renewal)

    assert offered == (1000, "own_unresolvable_current_period")
