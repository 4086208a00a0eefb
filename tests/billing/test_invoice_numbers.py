"""Rule 14: invoice numbers are sequential without gaps, also under concurrency and when an
issuing transaction is rolled back."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from licensary.billing.models import Invoice
from licensary.billing.services import LineSpec, invoice_issue
from licensary.orders.services import order_create
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import make_account


class Abandoned(Exception):
    """Raised to roll back an issuing transaction after it took its number."""


def issue(account, amount: int = 100) -> Invoice:
    return invoice_issue(
        account=account,
        purpose="deposit",
        currency="USD",
        actor=None,
        due_at=timezone.now() + timedelta(days=7),
        lines=[LineSpec(kind="deposit", description="top-up", amount=amount)],
    )


def numbers() -> list[int]:
    return sorted(Invoice.objects.values_list("number", flat=True))


@pytest.mark.django_db
def test_a_rolled_back_issue_leaves_no_gap(alice):
    with transaction.atomic():
        first = issue(alice)
    with pytest.raises(Abandoned), transaction.atomic():
        abandoned = issue(alice)
        assert abandoned.number == first.number + 1
        raise Abandoned

    following = issue(alice)

    assert following.number == first.number + 1
    assert numbers() == [first.number, first.number + 1]


@pytest.mark.django_db
def test_an_order_that_fails_after_numbering_its_invoice_leaves_no_gap(alice, product):
    first = order_create(actor=alice, product=product, ip="93.184.216.34")
    with pytest.raises(Abandoned), transaction.atomic():
        order_create(actor=alice, product=product, ip="93.184.216.35")
        raise Abandoned

    second = order_create(actor=alice, product=product, ip="93.184.216.36")

    assert second.invoice.number == first.invoice.number + 1
    assert numbers() == [first.invoice.number, second.invoice.number]


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_orders_get_numbers_one_to_thirty(product):
    require_postgres()
    buyers = [make_account(f"buyer{i}@example.test") for i in range(30)]

    results = run_concurrently(
        lambda i: order_create(actor=buyers[i], product=product, ip="93.184.216.34"), 30
    )

    assert not errors(results), errors(results)
    assert sorted(order.invoice.number for order in results) == list(range(1, 31))
    assert numbers() == list(range(1, 31))


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_with_rollbacks_leave_no_gap(product):
    require_postgres()
    buyers = [make_account(f"buyer{i}@example.test") for i in range(30)]

    def issue_or_abandon(i: int) -> int:
        with transaction.atomic():
            order = order_create(actor=buyers[i], product=product, ip="93.184.216.34")
            if i % 3 == 0:  # ten of the thirty give up after taking a number
                raise Abandoned
        return order.invoice.number

    results = run_concurrently(issue_or_abandon, 30)

    assert sum(isinstance(r, Abandoned) for r in results) == 10
    assert [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, Abandoned)
    ] == []
    assert sorted(r for r in results if isinstance(r, int)) == list(range(1, 21))
    assert numbers() == list(range(1, 21))
