"""Dates, numbers and money as the reader's language writes them: Jalali dates with Persian
digits in Persian (jdatetime), Gregorian in English; amounts per locale (Babel)."""

from datetime import date, datetime
from decimal import Decimal

import jdatetime
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from django.utils import timezone, translation

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def is_persian() -> bool:
    return (translation.get_language() or "en").startswith("fa")


def locale_name() -> str:
    return "fa" if is_persian() else "en"


def persian_digits(text: str) -> str:
    return text.translate(PERSIAN_DIGITS)


def local_digits(text: str) -> str:
    return persian_digits(text) if is_persian() else text


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def format_day(value: date | datetime | None) -> str:
    """A calendar day: `3 Dec 2026`, or `۱۲ آذر ۱۴۰۵` (Jalali) in Persian."""
    if value is None:
        return ""
    day = _local(value).date() if isinstance(value, datetime) else value
    if is_persian():
        jalali = jdatetime.date.fromgregorian(date=day, locale="fa_IR")
        return persian_digits(jalali.strftime("%d %B %Y"))
    return format_date(day, format="medium", locale="en")


def format_moment(value: datetime | None) -> str:
    """A day and a time (the server's time zone, UTC by default)."""
    if value is None:
        return ""
    moment = _local(value)
    if is_persian():
        jalali = jdatetime.datetime.fromgregorian(datetime=moment, locale="fa_IR")
        return persian_digits(jalali.strftime("%d %B %Y، %H:%M"))
    return format_datetime(moment, format="MMM d, y, HH:mm", locale="en")


def format_money(amount: int, currency: str) -> str:
    """Minor units of `currency` (its ISO 4217 exponent, as Babel knows it) as the locale
    writes money: `$12.50`, or the Persian form (the locale's own separators; Babel keeps
    Latin digits, which are then written in Persian)."""
    exponent = get_currency_precision(currency)
    value = Decimal(amount).scaleb(-exponent)
    return local_digits(
        format_currency(value, currency, locale=locale_name(), numbering_system="default")
    )


def format_number(value: int) -> str:
    return local_digits(format_decimal(value, locale=locale_name(), numbering_system="default"))
