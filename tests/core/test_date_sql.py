"""The sweep's date arithmetic in SQL (`add_months_sql`, `add_days_sql`) gives exactly what
`core.dates.add_months` and a timedelta give, on each database: Oct 31 + 4 months is Feb 28."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils.dateparse import parse_datetime

from licensary.core.dates import add_months
from licensary.core.db import add_days_sql, add_months_sql

pytestmark = pytest.mark.django_db

MOMENTS = [
    datetime(2025, 10, 31, 10, 0, tzinfo=UTC),
    datetime(2027, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),  # to Feb 29 of a leap year
    datetime(2026, 1, 31, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 8, 31, 12, 30, tzinfo=UTC),
    datetime(2026, 12, 15, 6, 0, 30, tzinfo=UTC),
    datetime(2026, 3, 30, 1, 2, 3, 456000, tzinfo=UTC),
    *(datetime(2026, 1, 1, 9, 15, tzinfo=UTC) + timedelta(days=d) for d in range(0, 400, 3)),
]


def in_sql(make_sql: Callable[[str, str, int], tuple[str, list[object]]], amount: int) -> list:
    """`make_sql` applied by the database to every moment, read back as aware datetimes."""
    adapt = connection.ops.adapt_datetimefield_value
    cast = "CAST(%s AS timestamptz)" if connection.vendor == "postgresql" else "%s"
    expression, params = make_sql(connection.vendor, "m", amount)
    moments = " UNION ALL ".join(f"SELECT {n} AS n, {cast} AS m" for n in range(len(MOMENTS)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {expression} FROM ({moments}) AS moments ORDER BY n",
            [*params, *(adapt(m) for m in MOMENTS)],
        )
        return [as_aware(value) for (value,) in cursor.fetchall()]


def as_aware(value: object) -> datetime:
    if isinstance(value, datetime):  # PostgreSQL
        return value.astimezone(UTC)
    parsed = parse_datetime(str(value))  # SQLite: the text Django stores, naive UTC
    assert parsed is not None, value
    return parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize("months", [1, 4, 12, 13])
def test_months_added_in_sql_clamp_to_the_last_day_as_add_months_does(months):
    assert in_sql(add_months_sql, months) == [add_months(m, months) for m in MOMENTS]


def test_october_31_plus_4_months_is_february_28_in_sql():
    assert in_sql(add_months_sql, 4)[0] == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_days_added_in_sql_keep_the_time_of_day():
    assert in_sql(add_days_sql, 7) == [m + timedelta(days=7) for m in MOMENTS]
