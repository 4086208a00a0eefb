"""Emails, sent by the worker after the change that causes them has committed."""

from django.conf import settings
from django.core.mail import send_mass_mail

from licensary.billing.models import Invoice
from licensary.jobs.tasks import durable_task
from licensary.licenses.models import License

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
    messages = []
    for lic in License.objects.filter(pk__in=license_ids).select_related("account", "product"):
        body = (f"{lic.product.name} ({lic.kind} license) on {lic.ip} is now {lic.status}.\n")
        if lic.renewable_until and lic.status != License.Status.DELETED:
            body += ("It can be renewed without the setup fee until "
                     f"{lic.renewable_until:%Y-%m-%d}.\n")
        messages.append((SUBJECTS.get(event, f"License {event}"), body,
                         settings.DEFAULT_FROM_EMAIL, [lic.account.email]))
    return send_mass_mail(messages, fail_silently=False) if messages else 0


@durable_task
def send_invoice_reminders(*, invoice_ids: list[int], stage: int) -> int:
    messages = []
    for invoice in Invoice.objects.filter(pk__in=invoice_ids, status=Invoice.Status.UNPAID) \
            .select_related("account"):
        messages.append((
            f"Invoice {invoice.number}: renewal due {invoice.due_at:%Y-%m-%d}"
            + (" (reminder)" if stage > 1 else ""),
            f"Invoice {invoice.number} for {invoice.total_money} is due on "
            f"{invoice.due_at:%Y-%m-%d %H:%M} UTC. Unpaid licenses are blocked at that time.\n",
            settings.DEFAULT_FROM_EMAIL, [invoice.account.email],
        ))
    return send_mass_mail(messages, fail_silently=False) if messages else 0
