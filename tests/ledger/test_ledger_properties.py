"""Property (rule 14): whatever sequence of orders, credit payments, staff adjustments,
rejections of held orders, deliveries and sweeps happens, every ledger transaction sums to zero
per currency, no credit book is below zero, and each account's credit is the sum of its credit
book's postings and the amount a simple model of the account expects."""

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from licensary.accounts.services import account_credit_adjust
from licensary.billing.models import Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.core.errors import DomainError, IpTaken
from licensary.ledger.models import LedgerAccount, Posting
from licensary.ledger.services import account_credit, balance
from licensary.licenses.rules import effective_status
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from licensary.orders.services import order_create, order_reject
from tests.helpers import make_account, run_jobs

IPS = ["93.184.216.34", "151.101.1.69"]
CAST = 3  # accounts per example
DAYS = st.sampled_from([1, 8, 25, 31, 45, 130])  # around the lifecycle's boundaries

operations = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(0, CAST - 1), st.integers(0, len(IPS) - 1)),
        st.tuples(st.just("pay"), st.integers(0, 50), st.booleans()),
        st.tuples(
            st.just("adjust"), st.integers(0, CAST - 1), st.integers(-2500, 4000).filter(bool)
        ),
        st.tuples(st.just("deliver")),
        st.tuples(st.just("reject"), st.integers(0, 50)),
        st.tuples(st.just("sweep"), DAYS),
        st.tuples(st.just("wait"), DAYS),  # time passes and the sweep is late
    ),
    min_size=3,
    max_size=25,
)


def outcome(call) -> str | None:
    """The API code a service call was refused with, or None when it went through."""
    try:
        call()
    except DomainError as exc:
        return exc.code
    return None


class World:
    """The accounts of one example and the credit the model expects each to have."""

    def __init__(self, product, staff, clock) -> None:
        self.product, self.staff, self.clock = product, staff, clock
        self.accounts = [make_account(f"p{i}@example.test") for i in range(CAST)]
        self.expected = [0] * CAST

    def index(self, account_id: int) -> int:
        return [a.pk for a in self.accounts].index(account_id)

    def order(self, who: int, ip: int) -> None:
        # IpTaken: it already holds this IP, and renewing is the way, not a new order.
        with contextlib.suppress(IpTaken):
            order_create(actor=self.accounts[who], product=self.product, ip=IPS[ip])

    def pay(self, pick: int, unpaid_only: bool) -> None:
        invoices = Invoice.objects.filter(account__in=self.accounts).order_by("pk")
        if unpaid_only:
            invoices = invoices.filter(status=Invoice.Status.UNPAID)
        invoices = list(invoices)
        if not invoices:
            return
        invoice = invoices[pick % len(invoices)]
        who = self.index(invoice.account_id)
        if invoice.status != Invoice.Status.UNPAID:
            want = "invalid_transition"
        elif self.expected[who] < invoice.total:
            want = "insufficient_credit"
        elif (
            invoice.purpose == Invoice.Purpose.RENEWAL
            and effective_status(invoice.lines.get(kind="renewal").license, timezone.now())
            == "deleted"
        ):
            want = "license_deleted"
        else:
            want = None
        got = outcome(lambda: invoice_pay_with_credit(invoice=invoice, actor=self.accounts[who]))
        assert got == want, (invoice.purpose, invoice.status, invoice.total, self.expected)
        event(f"pay {invoice.purpose}: {got or 'paid'}")
        if got is None:
            self.expected[who] -= invoice.total

    def adjust(self, who: int, amount: int) -> None:
        want = "insufficient_credit" if self.expected[who] + amount < 0 else None
        got = outcome(
            lambda: account_credit_adjust(
                account=self.accounts[who], amount=amount, note="property", actor=self.staff
            )
        )
        assert got == want, (amount, self.expected[who])
        event(f"adjust: {got or 'done'}")
        if got is None:
            self.expected[who] += amount

    def deliver(self) -> None:
        run_jobs()

    def reject(self, pick: int) -> None:
        held = list(
            Order.objects.filter(account__in=self.accounts, status=Order.Status.ON_HOLD).order_by(
                "pk"
            )
        )
        if not held:
            return
        order = held[pick % len(held)]
        order_reject(order=order, actor=self.staff, note="property")
        self.expected[self.index(order.account_id)] += order.invoice.total
        event("held order rejected and refunded")

    def sweep(self, days: int) -> None:
        self.clock.shift(timedelta(days=days))
        report = sweep()
        for step, count in report.counts.items():
            if count:
                event(f"sweep: {step}")

    def wait(self, days: int) -> None:
        self.clock.shift(timedelta(days=days))

    def check(self) -> None:
        unbalanced = (
            Posting.objects.values("transaction_id", "currency")
            .annotate(total=Sum("amount"))
            .exclude(total=0)
        )
        assert list(unbalanced) == []
        for book in LedgerAccount.objects.filter(code=LedgerAccount.Code.CREDIT):
            assert balance(book) >= 0, book.key
        for who, account in enumerate(self.accounts):
            postings = (
                Posting.objects.filter(
                    account__owner=account,
                    account__code=LedgerAccount.Code.CREDIT,
                    currency=account.currency,
                ).aggregate(total=Sum("amount"))["total"]
                or 0
            )
            assert account_credit(account).amount == postings == self.expected[who]
        paid = (
            Invoice.objects.filter(account__in=self.accounts)
            .exclude(status__in=[Invoice.Status.UNPAID, Invoice.Status.VOID])
            .count()
        )
        assert Payment.objects.filter(invoice__account__in=self.accounts).count() == paid


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    credits=st.lists(st.sampled_from([0, 600, 1500, 3000, 6000]), min_size=CAST, max_size=CAST),
    ops=operations,
)
# Always walk the longest paths once: a held order rejected, and renewals paid and refused.
@example(
    credits=[3000, 1600, 0],
    ops=[
        ("order", 0, 0),
        ("order", 1, 0),
        ("pay", 0, True),
        ("pay", 0, True),
        ("deliver",),
        ("reject", 0),
        ("pay", 1, False),
        ("adjust", 1, -1601),
        ("adjust", 1, -1600),
    ],
)
@example(
    credits=[4000, 0, 0],
    ops=[
        ("order", 0, 0),
        ("pay", 0, True),
        ("deliver",),
        ("sweep", 25),
        ("pay", 0, True),
        ("sweep", 40),
        ("sweep", 8),
        ("order", 0, 0),
        ("pay", 0, True),
        ("sweep", 100),
        ("wait", 60),
        ("adjust", 0, 1000),
        ("pay", 0, True),
        ("sweep", 1),
        ("order", 0, 0),
        ("pay", 0, True),
    ],
)
def test_credit_is_the_ledger_and_the_ledger_always_balances(product, staff, credits, ops):
    # `product` and `staff` are the same in every example; the rest is rolled back after it.
    with time_machine.travel(timezone.now(), tick=False) as clock, transaction.atomic():
        world = World(product, staff, clock)
        for who, amount in enumerate(credits):
            if amount:
                world.adjust(who, amount)
        for name, *args in ops:
            getattr(world, name)(*args)
            world.check()
        transaction.set_rollback(True)
