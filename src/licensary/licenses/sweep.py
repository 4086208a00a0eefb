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

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from licensary.audit.services import Change, audit_append, audit_record_many
from licensary.billing.models import Invoice, InvoiceLine
from licensary.billing.services import LineSpec, next_invoice_numbers
from licensary.jobs.tasks import enqueue
from licensary.licenses.lifecycle import TRANSITIONS, period
from licensary.licenses.models import License

logger = logging.getLogger(__name__)
S = License.Status
SWEEP_ACTOR = "system:sweep"


def _days(name: str) -> timedelta:
    return timedelta(days=settings.LICENSARY[name])


@dataclass(frozen=True)
class Step:
    """One time-driven transition: which rows are due, and what the UPDATE sets."""

    name: str
    source: str
    target: str
    due_field: str  # due when due_field <= now - delay()
    delay: Callable[[], timedelta]
    set_sql: Callable[[], tuple[str, list[object]]]
    action: str


STEPS = [
    Step(
        name="block",
        source=S.ACTIVE,
        target=S.BLOCKED,
        due_field="period_end",
        delay=lambda: timedelta(0),
        set_sql=lambda: (
            "status = 'blocked', blocked_at = period_end, "
            "renewable_until = licensary_add_months(period_end, %s)",
            [settings.LICENSARY["DELETE_AFTER_BLOCK_MONTHS"]],
        ),
        action="license.blocked",
    ),
    Step(
        name="cancel",
        source=S.BLOCKED,
        target=S.CANCELED,
        due_field="blocked_at",
        delay=lambda: _days("CANCEL_AFTER_BLOCK_DAYS"),
        set_sql=lambda: (
            "status = 'canceled', canceled_at = licensary_add_days(blocked_at, %s),"
            " cancel_reason = 'unpaid'",
            [settings.LICENSARY["CANCEL_AFTER_BLOCK_DAYS"]],
        ),
        action="license.canceled",
    ),
    Step(
        name="delete",
        source=S.CANCELED,
        target=S.DELETED,
        due_field="renewable_until",
        delay=lambda: timedelta(0),
        set_sql=lambda: ("status = 'deleted', deleted_at = renewable_until", []),
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
    """id, account_id, kind, upstream_supplier, then the dates as ISO text made by the
    database itself (parsing a million datetimes in Python costs more than the UPDATE)."""
    if vendor == "postgresql":
        dates = [
            f"to_char({table}.{d} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            for d in DATES
        ]
    else:
        dates = [f"replace({d}, ' ', 'T') || 'Z'" for d in DATES]
    columns = [f"{table}.{c}" for c in ("id", "account_id", "kind", "upstream_supplier")]
    return ", ".join(columns + dates)


def _after_json(target: str, row: tuple[object, ...]) -> str:
    """The canonical JSON of {dates that are set..., "status": target}, keys sorted."""
    parts = [
        f'"{name}":"{value}"'
        for name, value in zip(DATES, row[4:], strict=True)
        if value is not None
    ]
    parts.append(f'"status":"{target}"')
    return "{" + ",".join(parts) + "}"


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
        set_sql, set_params = step.set_sql()
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
        before = f'{{"status":"{step.source}"}}'
        reason = TRANSITIONS[(step.source, step.target)]
        audit_append(
            [
                (
                    None,
                    SWEEP_ACTOR,
                    step.action,
                    "license",
                    row[0],
                    row[1],
                    before,
                    _after_json(step.target, row),
                    reason,
                )
                for row in rows
            ]
        )
        ids = [row[0] for row in rows]
        if step.target == S.DELETED:
            _void_open_renewals(ids)
        upstream = [row[0] for row in rows if row[2] == License.Kind.MANUFACTURER and row[3]]
        if upstream:
            from licensary.suppliers.sync import sync_upstream

            enqueue(sync_upstream, license_ids=upstream, renew=False, old_ip=None)
        from licensary.notifications.tasks import notify_license_event

        # The ids as one text: a list of thousands is costly for the task library to check.
        enqueue(notify_license_event, license_ids=",".join(map(str, ids)), event=step.target)
    return ids


def _void_open_renewals(license_ids: list[int]) -> None:
    invoices = list(
        Invoice.objects.filter(
            status=Invoice.Status.UNPAID,
            lines__kind="renewal",
            lines__license_id__in=license_ids,
        )
        .values_list("pk", "account_id")
        .distinct()
    )
    if not invoices:
        return
    now = timezone.now()
    Invoice.objects.filter(pk__in=[pk for pk, _ in invoices], status=Invoice.Status.UNPAID).update(
        status=Invoice.Status.VOID, voided_at=now, void_reason="license deleted"
    )
    audit_record_many(
        [
            Change(
                action="invoice.voided",
                object_type="invoice",
                object_id=pk,
                actor_label=SWEEP_ACTOR,
                account_id=account_id,
                before={"status": "unpaid"},
                after={"status": "void"},
                reason="license deleted",
            )
            for pk, account_id in invoices
        ]
    )


def _renewal_batch(now: datetime, license_ids: list[int] | None, batch: int) -> list[int]:
    """Issue renewal invoices `RENEWAL_NOTICE_DAYS` before the period ends (rule 4)."""
    # `renewal_invoiced_for` is set on the license row in the issuing transaction, so a second
    # sweeper that locks the row after the first commits re-checks this condition (PostgreSQL
    # re-evaluates the WHERE on the updated row) and skips it: never two invoices.
    due = _scoped(
        License.objects.filter(
            status=S.ACTIVE, period_end__lte=now + _days("RENEWAL_NOTICE_DAYS")
        ).filter(Q(renewal_invoiced_for__isnull=True) | ~Q(renewal_invoiced_for=F("period_end"))),
        license_ids,
    )
    with transaction.atomic():
        ids = _lock_due(due, "period_end", batch)
        if not ids:
            return []
        licenses = list(
            License.objects.filter(pk__in=ids)
            .select_related("product", "account")
            .order_by("period_end", "pk")
        )
        invoice_ids = issue_renewal_invoices(licenses, now=now)
        from licensary.notifications.tasks import send_invoice_reminders

        enqueue(send_invoice_reminders, invoice_ids=invoice_ids, stage=1)
        # Stage 1 is the notice at issue; later stages count on it being recorded.
        Invoice.objects.filter(pk__in=invoice_ids).update(reminders_sent=1)
    return ids


def renewal_line(lic: License) -> LineSpec:
    start = lic.period_end if lic.status == S.ACTIVE else timezone.now()
    end = start + period()
    return LineSpec(
        kind="renewal",
        amount=lic.product.price,
        license_id=lic.pk,
        period_start=start,
        period_end=end,
        description=f"{lic.product.name} ({lic.kind} license) on {lic.ip}: renewal "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )


def issue_renewal_invoices(licenses: list[License], *, now: datetime) -> list[int]:
    """One renewal invoice per license (locked by the caller), numbered in one go."""
    License.objects.filter(pk__in=[lic.pk for lic in licenses]).update(
        renewal_invoiced_for=F("period_end")
    )
    numbers = next_invoice_numbers(len(licenses))
    invoices = Invoice.objects.bulk_create(
        [
            Invoice(
                number=number,
                account=lic.account,
                purpose=Invoice.Purpose.RENEWAL,
                currency=lic.product.currency,
                total=lic.product.price,
                issued_at=now,
                due_at=max(lic.period_end, now) if lic.status == S.ACTIVE else now,
            )
            for number, lic in zip(numbers, licenses, strict=True)
        ]
    )
    lines = [renewal_line(lic) for lic in licenses]
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                kind=spec.kind,
                description=spec.description,
                amount=spec.amount,
                license_id=spec.license_id,
                period_start=spec.period_start,
                period_end=spec.period_end,
            )
            for invoice, spec in zip(invoices, lines, strict=True)
        ]
    )
    audit_record_many(
        [
            Change(
                action="invoice.issued",
                object_type="invoice",
                object_id=invoice.pk,
                actor_label=SWEEP_ACTOR,
                account_id=invoice.account_id,
                after={
                    "number": invoice.number,
                    "total": invoice.total,
                    "purpose": "renewal",
                    "license": lic.pk,
                },
            )
            for invoice, lic in zip(invoices, licenses, strict=True)
        ]
    )
    return [invoice.pk for invoice in invoices]


def _reminder_batch(now: datetime, license_ids: list[int] | None, batch: int) -> list[int]:
    """Reminders 3 days and 1 day before the period ends (the first went out at issue)."""
    sent: list[int] = []
    for stage, days in ((2, 3), (3, 1)):
        due = _scoped(
            Invoice.objects.filter(
                purpose=Invoice.Purpose.RENEWAL,
                status=Invoice.Status.UNPAID,
                reminders_sent__lt=stage,
                due_at__gt=now,
                due_at__lte=now + timedelta(days=days),
            ),
            license_ids,
            "lines__license_id",
        )
        with transaction.atomic():
            ids = _lock_due(due, "due_at", batch)
            if ids:
                Invoice.objects.filter(pk__in=ids, reminders_sent__lt=stage).update(
                    reminders_sent=stage
                )
                from licensary.notifications.tasks import send_invoice_reminders

                enqueue(send_invoice_reminders, invoice_ids=ids, stage=stage)
                sent.extend(ids)
    return sent


def run_steps(
    *,
    now: datetime | None = None,
    license_ids: list[int] | None = None,
    batch: int | None = None,
    report: SweepReport | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SweepReport:
    """Each step in order, batch after batch until nothing is due: renewal invoices, then
    block, cancel, delete, so a license overdue since long walks every state in one run.
    `should_stop` is asked between batches (SIGTERM): a stop never cuts a batch in half."""
    now = now or timezone.now()
    batch = batch or settings.LICENSARY["SWEEP_BATCH"]
    report = report or SweepReport()
    steps: list[tuple[str, Callable[[], list[int]]]] = [
        ("renewal_invoice", lambda: _renewal_batch(now, license_ids, batch))
    ]
    steps += [
        (step.name, functools.partial(_transition_batch, step, now, license_ids, batch))
        for step in STEPS
    ]
    for name, run_batch in steps:
        while not should_stop():
            ids = run_batch()
            report.add(name, ids)
            if len(ids) < batch:
                break
    if not should_stop():
        report.add("reminder", _reminder_batch(now, license_ids, batch))
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
) -> SweepReport:
    """Run every due transition; with `dry_run`, compute the same report and roll it back."""
    from licensary.jobs.tasks import jobs_reap_stale

    if not dry_run:
        jobs_reap_stale()
        return run_steps(batch=batch, should_stop=should_stop)
    report = SweepReport()
    try:
        with transaction.atomic():
            run_steps(batch=batch, report=report)
            raise _DryRun
    except _DryRun:
        pass
    return report
