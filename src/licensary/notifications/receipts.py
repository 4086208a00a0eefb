"""The mail of staff's decision on a bank-transfer receipt: to the invoice's account and,
when an agent uploaded it for its customer, to the agent as well."""

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Receipt
from licensary.jobs.tasks import durable_task
from licensary.notifications.mail import Mail, mails_queue_and_send


def receipt_recipients(receipt: Receipt) -> list[User]:
    invoice = receipt.invoice
    people = [invoice.account]
    if receipt.uploaded_by.kind == User.Kind.AGENT and receipt.uploaded_by_id != invoice.account_id:
        people.append(receipt.uploaded_by)
    return people


@durable_task
def notify_receipt_decided(*, receipt_id: int, event: str) -> int:
    """`confirmed` or `rejected` (and why), while the receipt is still so decided."""
    return receipt_mail(receipt_id=receipt_id, event=event)


@durable_task
def notify_receipt_rejected(*, receipt_id: int) -> int:
    """The job queued before the confirmation had its mail (kept so that those still run)."""
    return receipt_mail(receipt_id=receipt_id, event="rejected")


def receipt_mail(*, receipt_id: int, event: str) -> int:
    receipt = (
        Receipt.objects.select_related("invoice__account__agent", "uploaded_by__agent")
        .filter(pk=receipt_id, status=event)
        .first()
    )
    if receipt is None or event not in (Receipt.Status.CONFIRMED, Receipt.Status.REJECTED):
        return 0
    invoice = receipt.invoice
    context = {
        "number": invoice.number,
        "total": str(invoice.total_money),
        "invoice_status": invoice.status,
        "paid": invoice.status == Invoice.Status.PAID,
        "reference": receipt.reference,
        "uploaded_at": receipt.created_at,
        "reason": receipt.reason,
    }
    return mails_queue_and_send(
        Mail(
            key=f"receipt.{event}:{receipt.pk}",
            to=person,
            template=f"receipt_{event}",
            context=context,
        )
        for person in receipt_recipients(receipt)
    )
