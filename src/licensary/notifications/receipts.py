"""The email telling a customer that staff rejected a bank-transfer receipt, and why."""

from django.conf import settings
from django.core.mail import send_mail

from licensary.accounts.models import User
from licensary.billing.models import Receipt
from licensary.jobs.tasks import durable_task


@durable_task
def notify_receipt_rejected(*, receipt_id: int) -> int:
    receipt = (
        Receipt.objects.select_related("invoice__account", "uploaded_by")
        .filter(pk=receipt_id, status=Receipt.Status.REJECTED)
        .first()
    )
    if receipt is None:
        return 0
    invoice = receipt.invoice
    recipients = [invoice.account.email]
    # An agent that uploaded the receipt for its customer is told as well.
    if receipt.uploaded_by.kind == User.Kind.AGENT and receipt.uploaded_by_id != invoice.account_id:
        recipients.append(receipt.uploaded_by.email)
    reference = f" (reference {receipt.reference})" if receipt.reference else ""
    body = (
        f"The bank-transfer receipt you uploaded for invoice {invoice.number}{reference} on "
        f"{receipt.created_at:%Y-%m-%d} was not accepted.\n\n"
        f"Reason: {receipt.reason}\n\n"
        f"While invoice {invoice.number} ({invoice.total_money}) is unpaid, you can upload "
        "another receipt on it or pay it another way.\n"
    )
    return send_mail(
        f"Invoice {invoice.number}: your payment receipt was not accepted",
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
        fail_silently=False,
    )
