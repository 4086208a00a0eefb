"""The lifecycle sweep: every time-driven transition that is due, in order, in batches.

Each step selects due rows with `FOR UPDATE SKIP LOCKED` (several sweepers split the work),
moves them with one compare-and-swap UPDATE, and writes their audit entries in the same
transaction. Steps repeat until nothing is due, so a license untouched for 200 days walks
active -> blocked -> canceled -> deleted in one run, each move recorded with its own time.
Running the sweep twice changes nothing the second time.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from licensary.audit.bus import record_batch
from licensary.audit.services import Batch
from licensary.billing.models import Invoice, InvoiceLine
from licensary.billing.reminders import invoice_reminders_due, invoices_notice_issued
from licensary.billing.services import invoices_void
from licensary.core.db import add_days_sql, add_months_sql
from licensary.jobs.tasks import enqueue, jobs_reap_stale
from licensary.licenses import rules
from licensary.licenses.invoicing import SWEEP_ACTOR, issue_renewal_invoices
from licensary.licenses.models import License
from licensary.licenses.rules import TRANSITIONS
from licensary.licenses.upstream import sync_upstream

logger = logging.getLogger(__name__)
S = License.Status


@dataclass(frozen=True)
class Step:
    """One time-driven transition: which rows are due, and what the UPDATE sets."""

    name: str
    source: str
    target: str
    due_field: str  # due when due_field <= now - delay()
    delay: Callable[[], timedelta]
    set_sql: Callable[[str], tuple[str, list[object]]]  # for the database vendor
    action: str


def _block_sql(vendor: str) -> tuple[str, list[object]]:
    until, params = add_months_sql(vendor, "period_end", rules.delete_after_block_months())
    return f"status = 'blocked', blocked_at = period_end, renewable_until = {until}", params


def _cancel_sql(vendor: str) -> tuple[str, list[object]]:
    at, params = add_days_sql(vendor, "blocked_at", rules.cancel_after_block().days)
    return f"status = 'canceled', canceled_at = {at}, cancel_reason = 'unpaid'", params


STEPS = [
    Step(
        name="block",
        source=S.ACTIVE,
        target=S.BLOCKED,
        due_field="period_end",
        delay=lambda: timedelta(0),
        set_sql=_block_sql,
        action="license.blocked",
    ),
    Step(
        name="cancel",
        source=S.BLOCKED,
        target=S.CANCELED,
        due_field="blocked_at",
        delay=rules.cancel_after_block,
        set_sql=_cancel_sql,
        action="license.canceled",
    ),
    Step(
        name="delete",
        source=S.CANCELED,
        target=S.DELETED,
        due_field="renewable_until",
        delay=lambda: timedelta(0),
        set_sql=lambda vendor: ("status = 'deleted', deleted_at = renewable_until", []),
        action="license.deleted",
    ),
]
for _step in STEPS:
    assert (_step.source, _step.target) in TRANSITIONS


@dataclass
class SweepReport:
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, step: str, ids: list[int]) -> None:
        self.counts[step] = self.counts.get(step, 0) + len(ids)
        sample = self.samples.setdefault(step, [])
        sample.extend(ids[: max(0, 10 - len(sample))])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "nothing due"

    def table(self) -> str:
        rows = [("step", "licenses", "first ids")]
        for name in ("renewal_invoice", "reminder", "block", "cancel", "delete"):
            rows.append(
                (
                    name,
                    str(self.counts.get(name, 0)),
                    " ".join(map(str, self.samples.get(name, []))),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )


def _scoped(qs: QuerySet, license_ids: list[int] | None, field_name: str = "pk") -> QuerySet:
    return qs if license_ids is None else qs.filter(**{f"{field_name}__in": license_ids})


def _lock_due(qs: QuerySet, order_field: str, batch: int) -> list[int]:
    return list(
        qs.select_for_update(skip_locked=True)
        .order_by(order_field, "pk")
        .values_list("pk", flat=True)[:batch]
    )


DATES = ("blocked_at", "canceled_at", "deleted_at", "period_end", "renewable_until")


def _returned(vendor: str, table: str) -> str:
    """id, account_id, the audit entry's `after`, kind, upstream_supplier.

    `after` is the canonical JSON of {dates that are set..., "status"} (keys sorted), made by
    the database itself: formatting a million datetimes in Python costs more than the UPDATE.
    """
    parts = []
    for name in DATES:
        if vendor == "postgresql":
            text = (
                f"to_char({table}.{name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            )
        else:
            text = f"replace({table}.{name}, ' ', 'T') || 'Z'"
        parts.append(f"""coalesce('"{name}":"' || {text} || '",', '')""")
    after = " || ".join(["'{'", *parts, f"""'"status":"' || {table}.status || '"}}'"""])
    columns = [f"{table}.{c}" for c in ("id", "account_id")]
    return ", ".join([*columns, after, f"{table}.kind", f"{table}.upstream_supplier"])


def _transition_batch(
    step: Step, now: datetime, license_ids: list[int] | None, batch: int
) -> list[int]:
    """Move one batch of due licenses with one compare-and-swap `UPDATE ... RETURNING`."""
    connection = transaction.get_connection()
    table = License._meta.db_table
    field = step.due_field
    cutoff = connection.ops.adapt_datetimefield_value(now - step.delay())
    with transaction.atomic():
        scope_ids = license_ids
        if step.target == S.DELETED:
            # Deleting voids open renewal invoices. A renewal payment locks its invoice and then
            # the license, so lock those invoices before the licenses, never after (deadlock).
            due = _scoped(
                License.objects.filter(status=step.source, renewable_until__lte=now), license_ids
            )
            scope_ids = list(due.order_by(field, "pk").values_list("pk", flat=True)[:batch])
            if not scope_ids:
                return []
            list(
                Invoice.objects.select_for_update()
                .filter(
                    status=Invoice.Status.UNPAID,
                    pk__in=InvoiceLine.objects.filter(
                        kind="renewal", license_id__in=scope_ids
                    ).values("invoice_id"),
                )
                .values_list("pk", flat=True)
            )
        scope_sql = ""
        if scope_ids is not None:
            if not scope_ids:
                return []
            scope_sql = f" AND id IN ({', '.join(['%s'] * len(scope_ids))})"
        set_sql, set_params = step.set_sql(connection.vendor)
        pick = (
            f"SELECT id FROM {table} WHERE status = %s AND {field} <= %s{scope_sql} "
            f"ORDER BY {field}, id LIMIT %s"
        )
        if connection.vendor == "postgresql":
            # A materialized CTE runs the pick once: as an `IN (...)` subquery PostgreSQL may
            # rescan it while updating and so go past the LIMIT.
            sql = (
                f"WITH due AS MATERIALIZED ({pick} FOR UPDATE SKIP LOCKED) "
                f"UPDATE {table} SET {set_sql} FROM due WHERE {table}.id = due.id "
                f"AND {table}.status = %s RETURNING {_returned(connection.vendor, table)}"
            )
            params = [step.source, cutoff, *(scope_ids or []), batch, *set_params, step.source]
        else:  # SQLite: the IMMEDIATE transaction already holds the only write lock
            sql = (
                f"UPDATE {table} SET {set_sql} WHERE status = %s AND id IN ({pick}) "
                f"RETURNING {_returned(connection.vendor, table)}"
            )
            params = [*set_params, step.source, step.source, cutoff, *(scope_ids or []), batch]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return []
        # One entry per license, one digest link and one `license.<target>` announcement for
        # the batch (notifications queue one job).
        record_batch(
            Batch(
                action=step.action,
                object_type="license",
                actor_label=SWEEP_ACTOR,
                reason=TRANSITIONS[(step.source, step.target)],
                before=f'{{"status":"{step.source}"}}',
            ),
            [row[:3] for row in rows],
        )
        ids = [row[0] for row in rows]
        if step.target == S.DELETED:
            _void_open_renewals(ids)
        upstream = [row[0] for row in rows if row[3] == License.Kind.MANUFACTURER and row[4]]
        if upstream:
            enqueue(sync_upstream, license_ids=upstream, renew=False, old_ip=None)
    return ids


def _void_open_renewals(license_ids: list[int]) -> None:
    """The deleted licenses' unpaid renewal invoices are void (locked by the caller)."""
    invoice_ids = list(
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID,
            lines__kind="renewal",
            lines__license_id__in=license_ids,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    invoices_void(
        invoice_ids=invoice_ids, reason="license deleted", actor=None, actor_label=SWEEP_ACTOR
    )


def _renewal_due(now: datetime, license_ids: list[int] | None) -> QuerySet[License]:
    return _scoped(
        License.objects.filter(
            status=S.ACTIVE, period_end__lte=now + rules.renewal_notice()
        ).filter(Q(renewal_invoiced_for__isnull=True) | ~Q(renewal_invoiced_for=F("period_end"))),
        license_ids,
    )


def _transition_due(step: Step, now: datetime, license_ids: list[int] | None) -> QuerySet[License]:
    due = {f"{step.due_field}__lte": now - step.delay()}
    return _scoped(License.objects.filter(status=step.source, **due), license_ids)


def _due_count(step: Step | None, now: datetime, license_ids: list[int] | None) -> int:
    """How many licenses `step` (None: the renewal invoices) has due now."""
    if step is None:
        return _renewal_due(now, license_ids).count()
    return _transition_due(step, now, license_ids).count()


class Progress(Protocol):
    """Told how the sweep goes (the command's progress bar on a terminal)."""

    def start(self, step: str, due: int | None) -> None:
        """`step` begins with `due` rows due (None: not counted beforehand)."""

    def advance(self, step: str, done: int) -> None:
        """`done` more rows of `step` were handled."""


def _renewal_batch(now: datetime, license_ids: list[int] | None, batch: int) -> list[int]:
    """Issue renewal invoices `RENEWAL_NOTICE_DAYS` before the period ends (rule 4)."""
    # `renewal_invoiced_for` is set on the license row in the issuing transaction, so a second
    # sweeper that locks the row after the first commits re-checks this condition (PostgreSQL
    # re-evaluates the WHERE on the updated row) and skips it: never two invoices.
    with transaction.atomic():
        ids = _lock_due(_renewal_due(now, license_ids), "period_end", batch)
        if not ids:
            return []
        licenses = list(
            License.objects.filter(pk__in=ids)
            .select_related("product", "account")
            .order_by("period_end", "pk")
        )
        invoice_ids = issue_renewal_invoices(licenses, now=now)
        invoices_notice_issued(invoice_ids)
    return ids


def run_steps(
    *,
    now: datetime | None = None,
    license_ids: list[int] | None = None,
    batch: int | None = None,
    report: SweepReport | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> SweepReport:
    """Each step in order, batch after batch until nothing is due: renewal invoices, then
    block, cancel, delete, so a license overdue since long walks every state in one run.
    `should_stop` is asked between batches (SIGTERM): a stop never cuts a batch in half.
    `progress`, when given, hears each step's due count (one COUNT) and each batch."""
    now = now or timezone.now()
    batch = batch or settings.LICENSARY["SWEEP_BATCH"]
    report = report or SweepReport()
    steps: list[tuple[str, Callable[[], list[int]], Callable[[], int]]] = [
        (
            "renewal_invoice",
            lambda: _renewal_batch(now, license_ids, batch),
            functools.partial(_due_count, None, now, license_ids),
        )
    ]
    steps += [
        (
            step.name,
            functools.partial(_transition_batch, step, now, license_ids, batch),
            functools.partial(_due_count, step, now, license_ids),
        )
        for step in STEPS
    ]
    for name, run_batch, count_due in steps:
        if progress is not None and not should_stop():
            progress.start(name, count_due())  # counted as the step starts: earlier ones feed it
        while not should_stop():
            ids = run_batch()
            report.add(name, ids)
            if progress is not None:
                progress.advance(name, len(ids))
            if len(ids) < batch:
                break
    if not should_stop():
        if progress is not None:
            progress.start("reminder", None)
        reminded = invoice_reminders_due(
            now=now, batch=batch, stages=rules.reminder_stages(), license_ids=license_ids
        )
        report.add("reminder", reminded)
        if progress is not None:
            progress.advance("reminder", len(reminded))
    return report


def licenses_catch_up(*, licenses: QuerySet[License], now: datetime | None = None) -> int:
    """Make the time-driven moves due among `licenses` now: the sweep's own steps restricted
    to them, each recorded as the sweep records it. Reads that filter on a status call this
    first, so that the stored status they filter on is the one the rules give (rule 5)."""
    now = now or timezone.now()
    due = Q()
    for step in STEPS:
        due |= Q(status=step.source, **{f"{step.due_field}__lte": now - step.delay()})
    ids = list(licenses.filter(due).order_by().values_list("pk", flat=True))
    for start in range(0, len(ids), CATCH_UP_CHUNK):
        run_steps(now=now, license_ids=ids[start : start + CATCH_UP_CHUNK])
    return len(ids)


CATCH_UP_CHUNK = 500  # ids per `IN (...)`: well inside every database's parameter limit


class _DryRun(Exception):
    pass


def sweep(
    *,
    dry_run: bool = False,
    batch: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> SweepReport:
    """Run every due transition; with `dry_run`, compute the same report and roll it back."""
    if not dry_run:
        jobs_reap_stale()
        return run_steps(batch=batch, should_stop=should_stop, progress=progress)
    report = SweepReport()
    try:
        with transaction.atomic():
            run_steps(batch=batch, report=report, progress=progress)
            raise _DryRun
    except _DryRun:
        pass
    return report
