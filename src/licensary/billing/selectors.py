"""Reads of billing: the invoices, refunds and receipts a caller sees, and the receipt files it
may download."""

from django.db.models import Q, QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import is_staff, visible
from licensary.billing.models import INVOICE_PAID, Invoice, Receipt, Refund


def visible_invoices(user: User) -> QuerySet[Invoice]:
    return visible(Invoice.objects.prefetch_related("lines"), user)


def visible_refunds(user: User) -> QuerySet[Refund]:
    return visible(Refund.objects.all(), user)


def receipts_visible_to(user: User) -> QuerySet:
    """Receipts of the invoices `user` may see (own; an agent's customers'; all for staff)."""
    return visible(Receipt.objects.select_related("invoice"), user, field="invoice__account")


def receipt_files_visible_to(user: User) -> QuerySet:
    """Receipts whose file `user` may download: the invoice's owner (and whoever uploaded it)
    and staff."""
    qs = Receipt.objects.select_related("invoice")
    if is_staff(user):
        return qs
    return qs.filter(Q(invoice__account=user) | Q(uploaded_by=user))


def receipts_invoice_already_paid(qs: QuerySet, already_paid: bool) -> QuerySet:
    """`qs` narrowed to the pending receipts whose invoice is paid (or to all the others)."""
    flagged = Q(status=Receipt.Status.PENDING, invoice__status__in=INVOICE_PAID)
    return qs.filter(flagged) if already_paid else qs.exclude(flagged)
