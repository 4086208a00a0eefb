"""An agent's statement (rule 9's resellers): what it sold, for whom, what it paid, and how its
credit moved over a span of time. A read: it writes nothing."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Sum

from licensary.accounts.models import User
from licensary.billing.models import Invoice, InvoiceLine, Payment
from licensary.core.errors import ValidationFailed
from licensary.ledger.models import LedgerAccount, Posting

MAX_DAYS = 731  # two years, a leap day included


@dataclass(frozen=True)
class Statement:
    agent: User
    start: datetime
    end: datetime  # exclusive
    opening_credit: int
    closing_credit: int
    lines: list[InvoiceLine]
    payments: list[Payment]
    movements: list[Posting]

    @property
    def currency(self) -> str:
        return self.agent.currency

    def totals(self) -> dict[str, int]:
        """Sums in the agent's currency: `sold` (lines for its customers), `purchased` (its
        own lines), `paid` (payments on its invoices), `deposited` and `refunded` (credit)."""
        mine = [line for line in self.lines if line.invoice.currency == self.currency]
        money_in = [p for p in self.movements if p.currency == self.currency]
        return {
            "sold": sum(x.amount for x in mine if x.customer_id and x.kind != "deposit"),
            "purchased": sum(x.amount for x in mine if not x.customer_id and x.kind != "deposit"),
            "paid": sum(p.amount for p in self.payments if p.currency == self.currency),
            "deposited": sum(p.amount for p in money_in if p.transaction.kind == "deposit"),
            "refunded": sum(p.amount for p in money_in if p.transaction.kind == "refund"),
        }


def statement_span(
    start: str | None, end: str | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The span `from`..`to` of a statement: ISO dates or times in UTC; a bare `to` date
    includes that whole day. Both left out: the last 30 days."""
    end_at = _instant(end, end_of_day=True) if end else now
    start_at = _instant(start, end_of_day=False) if start else end_at - timedelta(days=30)
    if start_at >= end_at:
        raise ValidationFailed("from must be before to.")
    if end_at - start_at > timedelta(days=MAX_DAYS):
        raise ValidationFailed(f"A statement covers at most {MAX_DAYS} days.")
    return start_at, end_at


def _instant(text: str, *, end_of_day: bool) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{text!r} is not an ISO 8601 date or time.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:  # a bare date: through the end of that day
        value += timedelta(days=1)
    return value


def agent_statement(*, agent: User, start: datetime, end: datetime) -> Statement:
    """The statement of `agent` for [start, end): its invoices' lines issued then (void ones
    left out), the payments made on its invoices, and its credit book's movements."""
    lines = list(
        InvoiceLine.objects.filter(
            invoice__account=agent, invoice__issued_at__gte=start, invoice__issued_at__lt=end
        )
        .exclude(invoice__status=Invoice.Status.VOID)
        .select_related("invoice", "customer")
        .order_by("invoice__issued_at", "invoice_id", "pk")
    )
    payments = list(
        Payment.objects.filter(invoice__account=agent, created_at__gte=start, created_at__lt=end)
        .select_related("invoice")
        .order_by("created_at", "pk")
    )
    books = LedgerAccount.objects.filter(owner=agent, code=LedgerAccount.Code.CREDIT)
    book = books.filter(currency=agent.currency)
    movements = list(
        Posting.objects.filter(
            account__in=books,
            transaction__created_at__gte=start,
            transaction__created_at__lt=end,
        )
        .select_related("transaction", "transaction__invoice")
        .order_by("transaction__created_at", "pk")
    )
    return Statement(
        agent=agent,
        start=start,
        end=end,
        opening_credit=_credit_before(book, start),
        closing_credit=_credit_before(book, end),
        lines=lines,
        payments=payments,
        movements=movements,
    )


def _credit_before(book: Any, instant: datetime) -> int:
    total = Posting.objects.filter(account__in=book, transaction__created_at__lt=instant).aggregate(
        total=Sum("amount")
    )["total"]
    return int(total or 0)
