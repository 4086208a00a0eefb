"""Reads of the ledger that are not one book's balance: the sales books by month."""

from datetime import datetime
from typing import TypedDict

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from licensary.ledger.models import LedgerAccount, Posting


class MonthSales(TypedDict):
    month: datetime
    currency: str
    amount: int


def sales_by_month(*, since: datetime) -> list[MonthSales]:
    """Net sales per calendar month and currency from `since`: what the sales books took in
    (a payment posts its total there) less what they gave back (a refund takes it out),
    in minor units; one query."""
    rows = (
        Posting.objects.filter(
            account__code=LedgerAccount.Code.SALES, transaction__created_at__gte=since
        )
        .annotate(month=TruncMonth("transaction__created_at"))
        .values("month", "currency")
        .annotate(amount=Sum("amount"))
        .order_by("month", "currency")
    )
    return [
        MonthSales(month=row["month"], currency=row["currency"], amount=int(row["amount"]))
        for row in rows
    ]
