"""Paying with credit under concurrency: an invoice is paid once, and credit never goes below
zero however many payments race for it (rules 8 and 14, RELIABILITY "Money")."""

import pytest
from django.db.models import Sum

from licensary.billing.models import Invoice, Payment
from licensary.catalog.services import product_create
from licensary.ledger.models import LedgerTransaction, Posting
from licensary.ledger.services import account_credit, credit_book
from licensary.orders.services import order_create
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, Api, api_for, give_credit

RACERS = 20


def pay_concurrently(apis: list[Api], invoice_ids: list[int]) -> list:
    def pay(i: int) -> tuple[int, str | None]:
        response = apis[i].post(f"/invoices/{invoice_ids[i]}/pay-with-credit")
        return response.status_code, (response.json_body or {}).get("code")

    results = run_concurrently(pay, len(invoice_ids))
    assert not errors(results), errors(results)  # an unhandled error would be a 500
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_payments_of_one_invoice_pay_it_once(alice, product, staff):
    require_postgres()
    give_credit(alice, 5000, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    apis = [api_for(alice) for _ in range(RACERS)]

    results = pay_concurrently(apis, [order.invoice_id] * RACERS)

    assert sorted(results) == [(200, None)] + [(409, "invalid_transition")] * (RACERS - 1)
    assert 500 not in {status for status, _ in results}
    invoice = Invoice.objects.get(pk=order.invoice_id)
    assert invoice.status == "paid"
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert LedgerTransaction.objects.get(kind="payment").invoice_id == invoice.pk
    assert account_credit(alice).amount == 5000 - 1500
    assert (
        Posting.objects.filter(account=credit_book(alice)).aggregate(total=Sum("amount"))["total"]
        == 3500
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_debits_of_60_from_a_balance_of_100_leave_40(alice, staff):
    require_postgres()
    cheap = product_create(
        actor=staff, slug="tiny", name="Tiny", kind="own", price=60, setup_fee=0, currency="USD"
    )
    give_credit(alice, 100, staff)
    invoices = [
        order_create(actor=alice, product=cheap, ip=f"93.184.216.{10 + i}").invoice_id
        for i in range(RACERS)
    ]
    apis = [api_for(alice) for _ in range(RACERS)]

    results = pay_concurrently(apis, invoices)

    assert sorted(results) == [(200, None)] + [(402, "insufficient_credit")] * (RACERS - 1)
    assert account_credit(alice).amount == 40
    assert Invoice.objects.filter(pk__in=invoices, status="paid").count() == 1
    assert Invoice.objects.filter(pk__in=invoices, status="unpaid").count() == RACERS - 1
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
