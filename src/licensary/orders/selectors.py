"""Reads of orders: what a caller sees, and the queue of held ones."""

from django.db.models import QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import visible
from licensary.orders.models import Order


def visible_orders(user: User) -> QuerySet[Order]:
    return visible(Order.objects.select_related("product"), user)


def held_orders() -> QuerySet[Order]:
    """The orders on hold, for staff's review queue."""
    return Order.objects.filter(status=Order.Status.ON_HOLD).select_related("product")
