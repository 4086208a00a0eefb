"""The mail of licenses, orders and invoices: durable jobs run by the worker after the change
that causes them has committed. Each asks, when it runs, whether its mail still makes sense
(a license no longer in the state the mail tells of, an invoice paid meanwhile, a reminder
that a later one has overtaken), writes the outbox rows (`notifications.mail`) and sends them.
"""

from datetime import datetime

from django.utils import timezone

from licensary.accounts.models import User
from licensary.billing.models import Invoice, InvoiceLine
from licensary.catalog.models import kind_words
from licensary.jobs.tasks import durable_task
from licensary.licenses.models import License
from licensary.licenses.rules import BANNED, NOT_RENEWABLE_REASONS
from licensary.notifications.mail import Mail, mails_queue_and_send
from licensary.orders.models import Order

LICENSE_MOMENT = {"blocked": "blocked_at", "canceled": "canceled_at", "deleted": "deleted_at"}


def _ids(ids: str | list[int]) -> list[int]:
    # A sweep batch is thousands of ids: they travel as one comma-separated text.
    return [int(pk) for pk in ids.split(",") if pk] if isinstance(ids, str) else list(ids)


def _moment(at: datetime | None) -> str:
    return at.isoformat() if at else "-"


def license_context(lic: License) -> dict[str, object]:
    return {
        "license_id": lic.pk,
        "product": lic.product.name,
        "kind": kind_words(lic.kind),
        "ip": lic.ip,
        "status": lic.status,
        "period_end": lic.period_end,
        "renewable_until": lic.renewable_until,
    }


@durable_task
def notify_license_event(*, license_ids: str | list[int], event: str) -> int:
    """Tell each owner its license is blocked, canceled or deleted, while it still is: after
    a gap the sweep walks a license through several states at once, and only the state it
    is left in is told. A ban's or a claim's cancellation is told by the ban's or the
    claim's own mail."""
    moment = LICENSE_MOMENT.get(event)
    if moment is None:
        return 0
    mails = [
        Mail(
            key=f"license.{event}:{lic.pk}:{_moment(getattr(lic, moment))}",
            to=lic.account,
            template=f"license_{event}",
            context=license_context(lic),
        )
        for lic in License.objects.filter(pk__in=_ids(license_ids), status=event)
        .exclude(cancel_reason__in=NOT_RENEWABLE_REASONS)
        .select_related("account__agent", "product")
        .order_by("pk")
    ]
    return mails_queue_and_send(mails)


def _reminder_is_stale(invoice: Invoice, stage: int, now: datetime) -> bool:
    """A reminder no longer worth sending: its invoice paid or void, a later stage already
    due (a catch-up after a gap tells the latest one only), its moment gone, or a license it
    renews no longer active (blocked: its own mail says what to do)."""
    if invoice.status != Invoice.Status.UNPAID or invoice.reminders_sent > stage:
        return True
    if invoice.due_at <= now:
        return True
    return (
        InvoiceLine.objects.filter(invoice=invoice, license__isnull=False)
        .exclude(license__status=License.Status.ACTIVE)
        .exists()
    )


def invoice_licenses(invoice: Invoice) -> list[dict[str, object]]:
    lines = (
        InvoiceLine.objects.filter(invoice=invoice, license__isnull=False)
        .select_related("license__product")
        .order_by("pk")
    )
    return [license_context(line.license) for line in lines if line.license is not None]


def invoice_context(invoice: Invoice) -> dict[str, object]:
    return {
        "invoice_id": invoice.pk,
        "number": invoice.number,
        "total": str(invoice.total_money),
        "issued_at": invoice.issued_at,
        "due_at": invoice.due_at,
        "licenses": invoice_licenses(invoice),
    }


@durable_task
def send_invoice_reminders(*, invoice_ids: list[int], stage: int) -> int:
    """The renewal notice at issue (stage 1) and the reminders before the due time."""
    now = timezone.now()
    mails = [
        Mail(
            key=f"invoice.reminder:{invoice.pk}:{stage}",
            to=invoice.account,
            template="invoice_reminder",
            context=invoice_context(invoice) | {"stage": stage},
        )
        for invoice in Invoice.objects.filter(pk__in=invoice_ids)
        .select_related("account__agent")
        .order_by("pk")
        if not _reminder_is_stale(invoice, stage, now)
    ]
    return mails_queue_and_send(mails)


@durable_task
def notify_invoice_issued(*, invoice_ids: str | list[int]) -> int:
    """An order's invoice, while it is unpaid (one paid at once needs no mail). A renewal's
    notice is its first reminder; a deposit's invoice is the answer to the account's own
    request; a claim's order is told by the claim's approval."""
    mails = [
        Mail(
            key=f"invoice.issued:{invoice.pk}",
            to=invoice.account,
            template="invoice_issued",
            context=invoice_context(invoice) | {"order_id": invoice.order.pk},
        )
        for invoice in Invoice.objects.filter(
            pk__in=_ids(invoice_ids),
            purpose=Invoice.Purpose.ORDER,
            status=Invoice.Status.UNPAID,
            order__isnull=False,
        )
        .exclude(order__kind=Order.Kind.CLAIM)
        .select_related("account__agent", "order__product")
        .order_by("pk")
    ]
    return mails_queue_and_send(mails)


def order_recipients(order: Order) -> list[User]:
    """The license's owner, and the buyer when another account (an agent) paid for it."""
    people = [order.account]
    if order.invoice.account_id != order.account_id:
        people.append(order.invoice.account)
    return people


@durable_task
def notify_order(*, order_id: int, event: str) -> int:
    """`completed` (delivered: its license) or `on_hold` (held for staff, and why), told
    while the order is still so."""
    order = (
        Order.objects.select_related(
            "account__agent", "invoice__account__agent", "product", "license"
        )
        .filter(pk=order_id, status=event)
        .first()
    )
    if order is None or event not in (Order.Status.COMPLETED, Order.Status.ON_HOLD):
        return 0
    context: dict[str, object] = {
        "order_id": order.pk,
        "product": order.product.name,
        "kind": kind_words(order.product.kind),
        "ip": order.ip,
        "hold_reason": order.hold_reason or "",
    }
    if order.license is not None:
        context |= license_context(order.license)
    moment = order.held_at if event == Order.Status.ON_HOLD else order.completed_at
    return mails_queue_and_send(
        Mail(
            key=f"order.{event}:{order.pk}:{_moment(moment)}",
            to=person,
            template=f"order_{event}",
            context=context,
        )
        for person in order_recipients(order)
    )


@durable_task
def notify_account_banned(*, account_id: int) -> int:
    """The banned account learns why, and that its services are canceled for good."""
    account = (
        User.objects.select_related("agent")
        .filter(pk=account_id, status=User.Status.BANNED)
        .first()
    )
    if account is None:
        return 0
    licenses = (
        License.objects.filter(account=account, cancel_reason=BANNED)
        .select_related("product")
        .order_by("pk")
    )
    return mails_queue_and_send(
        [
            Mail(
                key=f"account.banned:{account.pk}:{_moment(account.banned_at)}",
                to=account,
                template="account_banned",
                context={
                    "reason": User.BanReason(account.ban_reason).label
                    if account.ban_reason
                    else "",
                    "licenses": [license_context(lic) for lic in licenses],
                },
            )
        ]
    )
