"""The staff console's overview: what waits (counts, each a link to its page) and four charts
drawn on the server (`portal.charts`): net sales by month, licenses by status at each month's
end, the ages of held orders against the review target, and recorded changes per hour.

Every number is one aggregate query of its app's selector, so the page costs the same few
queries whatever the business's size (pinned by the tests).

Verification keeps no record of the calls it answers (its hot path is one indexed read; the
per-address limit lives in the cache), so there is nothing to count per hour there. The
hourly chart counts what the platform does record: audit entries, one per change."""

from datetime import datetime, timedelta
from functools import partial

from babel.dates import format_date
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from licensary.accounts.models import User
from licensary.accounts.policy import accounts_listed
from licensary.audit.selectors import audit_entries_per_hour
from licensary.billing.models import Receipt, Refund
from licensary.billing.selectors import receipts_visible_to, visible_refunds
from licensary.core.money import default_currency
from licensary.governance.claims import claim_status, visible_claims
from licensary.governance.models import Claim
from licensary.jobs.selectors import dead_jobs_open
from licensary.ledger.selectors import sales_by_month
from licensary.licenses.selectors import license_status_counts_at
from licensary.orders.selectors import held_order_age_counts, held_orders
from licensary.portal.charts import Chart, Series, bar_chart
from licensary.portal.formatting import format_money, local_digits, locale_name
from licensary.portal.staff_views import staff_page

MONTHS = 6
HOURS = 24
OPEN_CLAIMS = (
    Claim.Status.AWAITING_OWNER,
    Claim.Status.AWAITING_PROOF,
    Claim.Status.AWAITING_REVIEW,
)


def _target_hours() -> int:
    return int(settings.LICENSARY["REVIEW_TARGET_HOURS"])


def _month_starts(now: datetime) -> list[datetime]:
    """The first instants of the last `MONTHS` calendar months, this one last."""
    first = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _month in range(MONTHS - 1):
        starts.insert(0, (starts[0] - timedelta(days=1)).replace(day=1))
    return starts


def _month_label(start: datetime, pattern: str = "MMM y") -> str:
    # Calendar (Gregorian) months, as the ledger groups them; named in the reader's language.
    return local_digits(format_date(start.date(), format=pattern, locale=locale_name()))


def _month_axis(starts: list[datetime]) -> list[str]:
    return [_month_label(s, "MMM") for s in starts]


def _money_text(amount: int, *, currency: str) -> str:
    return format_money(amount, currency)


def _revenue_charts(starts: list[datetime]) -> list[Chart]:
    rows = sales_by_month(since=starts[0])
    currencies = sorted({row["currency"] for row in rows} | {default_currency()})
    labels = [_month_label(s) for s in starts]
    charts = []
    for currency in currencies:
        by_month = {
            timezone.localtime(row["month"]).date(): row["amount"]
            for row in rows
            if row["currency"] == currency
        }
        values = [by_month.get(s.date(), 0) for s in starts]
        charts.append(
            bar_chart(
                chart_id=f"chart-revenue-{currency.lower()}",
                title=_("Net sales by month (%(currency)s)") % {"currency": currency},
                desc=_(
                    "What the sales books took in each calendar month, less refunds, over "
                    "the last %(months)s months."
                )
                % {"months": local_digits(str(MONTHS))},
                labels=labels,
                axis_labels=_month_axis(starts),
                series=[Series(_("net sales"), "s-money", values)],
                value_text=partial(_money_text, currency=currency),
            )
        )
    return charts


def _licenses_chart(now: datetime, starts: list[datetime]) -> Chart:
    # The state at each month's end; this month's so far, at `now`.
    moments = [*starts[1:], now]
    counts = license_status_counts_at(moments)
    names = {
        "active": _("active"),
        "blocked": _("blocked"),
        "canceled": _("canceled"),
        "deleted": _("deleted"),
    }
    return bar_chart(
        chart_id="chart-licenses",
        title=_("Licenses by status at each month's end"),
        desc=_(
            "Active, blocked, canceled and deleted licenses at the end of each of the last "
            "%(months)s months (this month: now), as each license's dates tell."
        )
        % {"months": local_digits(str(MONTHS))},
        labels=[_month_label(s) for s in starts],
        axis_labels=_month_axis(starts),
        series=[
            Series(names[status], f"s-{status}", [c[status] for c in counts]) for status in names
        ],
    )


def _held_chart(now: datetime) -> Chart:
    target = _target_hours()
    bounds = (target // 4, target // 2, target)
    counts = held_order_age_counts(now=now, bounds_hours=bounds)
    n = [local_digits(str(b)) for b in bounds]
    labels = [
        _("under %(h)s h") % {"h": n[0]},
        _("%(a)s–%(b)s h") % {"a": n[0], "b": n[1]},
        _("%(a)s–%(b)s h") % {"a": n[1], "b": n[2]},
        _("%(h)s h or more") % {"h": n[2]},
    ]
    return bar_chart(
        chart_id="chart-held",
        title=_("Held orders by age"),
        desc=_(
            "Orders on hold now, by how long they have waited; from %(hours)s hours they are "
            "overdue."
        )
        % {"hours": n[2]},
        labels=labels,
        series=[
            Series(_("within target"), "s-within", [*counts[:3], 0]),
            Series(_("overdue"), "s-overdue", [0, 0, 0, counts[3]]),
        ],
    )


def _activity_chart(now: datetime) -> Chart:
    last = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    per_hour = {timezone.localtime(k): v for k, v in audit_entries_per_hour(since=hours[0]).items()}
    return bar_chart(
        chart_id="chart-activity",
        title=_("Changes recorded per hour"),
        desc=_(
            "Audit entries (every change to a license, an order, money or an account) in each "
            "of the last %(hours)s hours. Verification answers are not recorded, so they are "
            "not counted here."
        )
        % {"hours": local_digits(str(HOURS))},
        labels=[local_digits(h.strftime("%H:00")) for h in hours],
        series=[Series(_("changes"), "s-activity", [per_hour.get(h, 0) for h in hours])],
        label_every=4,
    )


@staff_page
def dashboard(request: HttpRequest, user: User) -> HttpResponse:
    now = timezone.now()
    held = held_orders()
    open_claims = visible_claims(user).filter(status__in=OPEN_CLAIMS)
    counts = {
        "held": held.count(),
        "overdue": held.filter(held_at__lte=now - timedelta(hours=_target_hours())).count(),
        "receipts": receipts_visible_to(user).filter(status=Receipt.Status.PENDING).count(),
        "identity": accounts_listed(user).filter(identity=User.Identity.PENDING).count(),
        # The claim's status by its rules (past the owner's window it may await review).
        "claims": sum(
            1 for c in open_claims if claim_status(c, now) == Claim.Status.AWAITING_REVIEW
        ),
        "refunds": visible_refunds(user).filter(status=Refund.Status.REQUESTED).count(),
        "dead_jobs": dead_jobs_open().count(),
    }
    starts = _month_starts(now)
    charts = [
        *_revenue_charts(starts),
        _licenses_chart(now, starts),
        _held_chart(now),
        _activity_chart(now),
    ]
    return render(request, "portal/staff/dashboard.html", {"counts": counts, "charts": charts})
