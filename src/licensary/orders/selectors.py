"""Reads of orders: what a caller sees, and the queue of held ones."""

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import visible
from licensary.orders.models import Order


def visible_orders(user: User) -> QuerySet[Order]:
    return visible(Order.objects.select_related("product"), user)


def held_orders() -> QuerySet[Order]:
    """The orders on hold, for staff's review queue."""
    return Order.objects.filter(status=Order.Status.ON_HOLD).select_related("product")


def held_order_age_counts(*, now: datetime, bounds_hours: tuple[int, ...]) -> list[int]:
    """How many held orders have waited less than each of `bounds_hours` (ascending) and, last,
    how many waited at least the largest; one query."""
    held = Q(status=Order.Status.ON_HOLD)
    edges = [now - timedelta(hours=h) for h in bounds_hours]
    aggregates = {}
    newer = now + timedelta(days=1)  # later than any hold
    for i, edge in enumerate(edges):
        aggregates[f"b{i}"] = Count("id", filter=held & Q(held_at__gt=edge, held_at__lte=newer))
        newer = edge
    aggregates["rest"] = Count("id", filter=held & Q(held_at__lte=newer))
    counts = Order.objects.aggregate(**aggregates)
    return [counts[f"b{i}"] for i in range(len(edges))] + [counts["rest"]]
