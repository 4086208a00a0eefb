"""The portal's template filters: `{{ when|day }}`, `{{ when|moment }}`,
`{{ amount|money:currency }}`, `{{ count|number }}`, `{{ status|status_label }}`."""

from datetime import date, datetime

from django import template
from django.utils.functional import Promise

from licensary.portal import formatting
from licensary.portal.labels import status_label as label_of

register = template.Library()


@register.filter
def day(value: date | datetime | None) -> str:
    return formatting.format_day(value)


@register.filter
def moment(value: datetime | None) -> str:
    return formatting.format_moment(value)


@register.filter
def money(amount: int | None, currency: str) -> str:
    return "" if amount is None else formatting.format_money(amount, currency)


@register.filter
def number(value: int | None) -> str:
    return "" if value is None else formatting.format_number(value)


@register.filter
def digits(value: object) -> str:
    """Any text with its digits in the reader's script (an IP address stays Latin: don't)."""
    return formatting.local_digits(str(value))


@register.filter
def status_label(value: str) -> str | Promise:
    return label_of(value)
