"""Emails, sent by the worker after the change that causes them has committed."""

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from licensary.billing.models import Invoice
from licensary.catalog.models import kind_words
from licensary.jobs.tasks import durable_task, heartbeat
from licensary.licenses.models import License
from licensary.licenses.rules import NOT_RENEWABLE_REASONS

Message = tuple[str, str, str, list[str]]  # subject, body, from, to

SUBJECTS = {
    "blocked": "Your license is blocked: renew it to unblock",
    "canceled": "Your license is canceled: it can still be renewed",
    "deleted": "Your license is deleted",
}


@durable_task
def notify_license_event(*, license_ids: str | list[int], event: str) -> int:
    """Tell each owner; `license_ids` is a comma-separated text (or a list)."""
    if isinstance(license_ids, str):
        license_ids = [int(pk) for pk in license_ids.split(",") if pk]
    messages: list[Message] = []
    for lic in License.objects.filter(pk__in=license_ids).select_related("account", "product"):
        body = f"{lic.product.name} ({kind_words(lic.kind)}) on {lic.ip} is now {lic.status}.\n"
        subject = SUBJECTS.get(event, f"License {event}")
        if lic.cancel_reason in NOT_RENEWABLE_REASONS:
            subject = "Your license is canceled: your account was banned"
        elif lic.renewable_until and lic.status != License.Status.DELETED:
            body += (
                f"It can be renewed without the setup fee until {lic.renewable_until:%Y-%m-%d}.\n"
            )
        messages.append(
            (
                subject,
                body,
                settings.DEFAULT_FROM_EMAIL,
                [lic.account.email],
            )
        )
    return send_each(messages)


@durable_task
def send_invoice_reminders(*, invoice_ids: list[int], stage: int) -> int:
    messages: list[Message] = []
    for invoice in Invoice.objects.filter(
        pk__in=invoice_ids, status=Invoice.Status.UNPAID
    ).select_related("account"):
        messages.append(
            (
                f"Invoice {invoice.number}: renewal due {invoice.due_at:%Y-%m-%d}"
                + (" (reminder)" if stage > 1 else ""),
                f"Invoice {invoice.number} for {invoice.total_money} is due on "
                f"{invoice.due_at:%Y-%m-%d %H:%M} UTC. Unpaid licenses are blocked at that time.\n",
                settings.DEFAULT_FROM_EMAIL,
                [invoice.account.email],
            )
        )
    return send_each(messages)


def send_each(messages: list[Message]) -> int:
    """Send the messages over one connection, one by one, with a job heartbeat before each:
    a long batch keeps its lease, and a worker whose batch was taken over by another stops
    before sending the rest a second time."""
    if not messages:
        return 0
    sent = 0
    with get_connection(fail_silently=False) as connection:
        for subject, body, sender, recipients in messages:
            heartbeat()
            sent += connection.send_messages(
                [EmailMessage(subject, body, sender, recipients, connection=connection)]
            )
    return sent
