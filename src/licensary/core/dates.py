"""Calendar arithmetic shared by Python and the databases (see `add_months` SQL function)."""

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day (Oct 31 + 4 -> Feb 28).

    PostgreSQL's `timestamptz + interval 'N months'` clamps the same way, which lets the sweep
    select due rows in SQL with exactly this rule.
    """
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
