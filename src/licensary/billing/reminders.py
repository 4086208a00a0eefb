"""Reminders of unpaid renewal invoices: the notice at issue (stage 1), then one on each later
day of `REMINDER_DAYS` before the invoice is due. Each stage is recorded on the invoice in the
transaction that announces it (`invoice.reminder_due`), so a stage is announced once: a sweep
run twice, or after a gap, announces nothing twice, and never a stage that a later one has
overtaken."""

from datetime import datetime, timedelta

from django.db import transaction

from licensary.billing import events as billing_events
from licensary.billing.models import Invoice


def invoices_notice_issued(invoice_ids: list[int]) -> None:
    """Stage 1: the renewal notice goes out with the invoice (in the issuing transaction)."""
    Invoice.objects.filter(pk__in=invoice_ids).update(reminders_sent=1)
    billing_events.invoices_reminder_due(invoice_ids, stage=1)


def invoice_reminders_due(
    *,
    now: datetime,
    batch: int,
    stages: list[tuple[int, int]],
    license_ids: list[int] | None = None,
) -> list[int]:
    """Announce the reminder `stages` (stage, days before due; the lifecycle's rules say
    which) due by `now`, a batch per stage; `license_ids` limits them to those licenses'
    renewals. Returns the invoices reminded."""
    sent: list[int] = []
    # The nearest stage first: after a gap, an invoice that several stages have fallen due for
    # takes only the latest (its `reminders_sent` then passes the earlier ones): one reminder
    # that still makes sense, never the stale ones before it.
    for stage, days in sorted(stages, key=lambda stage_days: stage_days[1]):
        due = Invoice.objects.filter(
            purpose=Invoice.Purpose.RENEWAL,
            status=Invoice.Status.UNPAID,
            reminders_sent__lt=stage,
            due_at__gt=now,
            due_at__lte=now + timedelta(days=days),
        )
        if license_ids is not None:
            due = due.filter(lines__license_id__in=license_ids)
        with transaction.atomic():
            ids = list(
                due.select_for_update(skip_locked=True)
                .order_by("due_at", "pk")
                .values_list("pk", flat=True)[:batch]
            )
            if ids:
                Invoice.objects.filter(pk__in=ids, reminders_sent__lt=stage).update(
                    reminders_sent=stage
                )
                billing_events.invoices_reminder_due(ids, stage=stage)
                sent.extend(ids)
    return sent
