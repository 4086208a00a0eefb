"""Database helpers: the `add_months` SQL function on every backend, and retries."""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import DateTimeField, Func
from django.utils.dateparse import parse_datetime

from licensary.core.dates import add_months

T = TypeVar("T")
logger = logging.getLogger(__name__)


class AddMonths(Func):
    """`add_months(ts, n)`: installed in SQLite per connection, in PostgreSQL by migration."""

    function = "licensary_add_months"
    output_field = DateTimeField()


def _sqlite_add_months(value: str | None, months: int) -> str | None:
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        return None
    # Exactly the text Django stores for a datetime on SQLite (`str(naive)`: no ".000000" on
    # whole seconds); SQLite compares datetimes as text, so another spelling misses equality.
    return str(add_months(moment, int(months)))


def _sqlite_add_days(value: str | None, days: int) -> str | None:
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        return None
    return str(moment + timedelta(days=int(days)))


def _install_sqlite_functions(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    if connection.vendor == "sqlite":
        raw = connection.connection
        raw.create_function("licensary_add_months", 2, _sqlite_add_months, deterministic=True)
        raw.create_function("licensary_add_days", 2, _sqlite_add_days, deterministic=True)


POSTGRES_ADD_DAYS = """
CREATE OR REPLACE FUNCTION licensary_add_days(ts timestamptz, days integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT ts + make_interval(days => days) $$;
"""

POSTGRES_ADD_MONTHS = """
CREATE OR REPLACE FUNCTION licensary_add_months(ts timestamptz, months integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT ((ts AT TIME ZONE 'UTC') + make_interval(months => months)) AT TIME ZONE 'UTC'
$$;
"""


def add_months_sql(vendor: str, column: str, months: int) -> tuple[str, list[object]]:
    """`add_months(column, months)` as SQL with its parameters, for statements that move many
    rows. On SQLite it is plain SQL over Django's datetime text (the registered function costs
    a Python call per row): the same date `months` later, or the month's last day when it is
    shorter, then the column's own time of day (" HH:MM:SS[.ffffff]" from character 11). The
    date functions see the date alone: given the time, SQLite rounds 23:59:59.999999 up."""
    if vendor != "sqlite":
        return f"licensary_add_months({column}, %s)", [months]
    day = f"substr({column}, 1, 10)"
    sql = (
        f"(CASE WHEN strftime('%%d', {day}, %s) = substr({column}, 9, 2) THEN date({day}, %s)"
        f" ELSE date({day}, 'start of month', %s, '-1 day') END || substr({column}, 11))"
    )
    return sql, [f"{months:+d} months", f"{months:+d} months", f"{months + 1:+d} months"]


def add_days_sql(vendor: str, column: str, days: int) -> tuple[str, list[object]]:
    """`column` plus `days` whole days as SQL with its parameters (see `add_months_sql`)."""
    if vendor != "sqlite":
        return f"licensary_add_days({column}, %s)", [days]
    return f"(date(substr({column}, 1, 10), %s) || substr({column}, 11))", [f"{days:+d} days"]


def install() -> None:
    connection_created.connect(_install_sqlite_functions, dispatch_uid="licensary_sqlite_fns")


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc)


def with_retries(fn: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `fn` (a whole transaction) again after a deadlock or serialization failure."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts or not is_retryable(exc) or connection.in_atomic_block:
                raise
            logger.warning("retrying after %s (attempt %d)", exc, attempt)
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
