"""Which events send which mail, and agents' webhooks: each handler queues its job in the
event's transaction (the job runs after commit, so a rolled-back change sends nothing).
Subscribed in `NotificationsConfig.ready`."""

from licensary.audit.bus import EVERY, Announcement, subscribe
from licensary.billing.models import Invoice
from licensary.jobs.tasks import enqueue
from licensary.notifications.governance import (
    notify_claim,
    notify_identity_rejected,
    notify_transfer,
)
from licensary.notifications.passwords import notify_password_reset
from licensary.notifications.receipts import notify_receipt_decided
from licensary.notifications.services import messages_queue
from licensary.notifications.support import notify_ticket_reply
from licensary.notifications.tasks import (
    notify_account_banned,
    notify_invoice_issued,
    notify_license_event,
    notify_order,
    send_invoice_reminders,
)

LICENSE_MAIL = ("license.blocked", "license.canceled", "license.deleted")


def license_changed(event: Announcement) -> None:
    # The ids as one text: a list of thousands (a sweep batch) is costly for the task library
    # to check.
    enqueue(
        notify_license_event,
        license_ids=",".join(event.object_ids),
        event=event.name.removeprefix("license."),
    )


def reminder_due(event: Announcement) -> None:
    stage = event.data["stage"]
    assert isinstance(stage, int)
    enqueue(send_invoice_reminders, invoice_ids=[int(pk) for pk in event.object_ids], stage=stage)


def receipt_decided(event: Announcement) -> None:
    for pk in event.object_ids:
        enqueue(notify_receipt_decided, receipt_id=int(pk), event=event.name.split(".")[1])


def order_changed(event: Announcement) -> None:
    for pk in event.object_ids:
        enqueue(notify_order, order_id=int(pk), event=event.name.removeprefix("order."))


def invoice_issued(event: Announcement) -> None:
    # Only an order's invoice has a mail of its own (`notify_invoice_issued`): a sweep's batch
    # of renewals or a deposit queues no job.
    ids = Invoice.objects.filter(pk__in=event.object_ids, purpose=Invoice.Purpose.ORDER)
    order_invoices = [str(pk) for pk in ids.order_by("pk").values_list("pk", flat=True)]
    if order_invoices:
        enqueue(notify_invoice_issued, invoice_ids=",".join(order_invoices))


def account_banned(event: Announcement) -> None:
    for pk in event.object_ids:
        enqueue(notify_account_banned, account_id=int(pk))


def password_reset_requested(event: Announcement) -> None:
    for pk in event.object_ids:
        enqueue(notify_password_reset, account_id=int(pk))


def ticket_message_added(event: Announcement) -> None:
    if event.data.get("staff_reply"):
        enqueue(notify_ticket_reply, message_id=int(str(event.data["message"])))


def transfer_changed(event: Announcement) -> None:
    for pk in sorted(set(event.object_ids)):  # one announcement per side of the transfer
        enqueue(notify_transfer, transfer_id=int(pk), event=event.name.removeprefix("transfer."))


def claim_changed(event: Announcement) -> None:
    for pk in sorted(set(event.object_ids)):
        enqueue(notify_claim, claim_id=int(pk), event=event.name.removeprefix("claim."))


def identity_rejected(event: Announcement) -> None:
    enqueue(notify_identity_rejected, document_id=int(str(event.data["document"])))


def subscribe_all() -> None:
    for name in LICENSE_MAIL:
        subscribe(name, license_changed)
    subscribe("invoice.reminder_due", reminder_due)
    subscribe("receipt.confirmed", receipt_decided)
    subscribe("receipt.rejected", receipt_decided)
    subscribe("order.completed", order_changed)
    subscribe("order.on_hold", order_changed)
    subscribe("invoice.issued", invoice_issued)
    subscribe("account.banned", account_banned)
    subscribe("account.password_reset_requested", password_reset_requested)
    subscribe("ticket.message_added", ticket_message_added)
    for name in ("requested", "accepted", "declined", "canceled"):
        subscribe(f"transfer.{name}", transfer_changed)
    for name in ("opened", "approved", "rejected"):
        subscribe(f"claim.{name}", claim_changed)
    subscribe("identity.rejected", identity_rejected)
    # Webhooks see every announcement and keep those of `webhook_types` (transfer.*, claim.*).
    subscribe(EVERY, webhook_event)


def webhook_event(event: Announcement) -> None:
    messages_queue(event)
