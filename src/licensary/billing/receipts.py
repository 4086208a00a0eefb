"""Bank-transfer receipts (rule 8): the customer uploads one on an unpaid invoice; staff confirm
it (the money is recorded through the ledger and the order is delivered) or reject it with a
reason the customer is told.

Files (RELIABILITY "Uploads", `core.uploads`): judged by their first bytes, stored under a
random server-made name in `DATA_DIR/receipts` (mode 0700), outside any URL; served only to the
owner and staff, as an attachment.

The same evidence is money once (RELIABILITY "Money"): on one invoice, a file (its sha256) is
one receipt whatever became of it, and a bank reference is one receipt unless that receipt was
rejected (a corrected scan of the same transfer may follow); across all invoices, of every
account, a file or a reference is one receipt not rejected (one transfer pays one invoice).
All are database constraints, so uploads to two invoices racing each other keep one.
A receipt still pending when its invoice gets paid some other way is money for credit only by
staff's explicit decision (`to_credit`), never by a plain confirmation.
"""

import unicodedata
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import may_act_for, require_staff
from licensary.accounts.services import account_require_in_good_standing
from licensary.billing import events as billing_events
from licensary.billing.models import INVOICE_PAID, Invoice, Payment, Receipt
from licensary.billing.services import invoice_pay_external
from licensary.core.errors import (
    DomainError,
    InvalidTransition,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from licensary.core.uploads import (
    FileTooLarge,
    store_upload,
    stored_path,
)
from licensary.core.uploads import too_large as uploads_too_large

MAX_RECEIPT_BYTES = 10 * 1024 * 1024
# One invoice cannot be used to fill the disk.
MAX_RECEIPTS_PER_INVOICE = 10
STORE = "receipts"


class DuplicateReceipt(DomainError):
    status = 409
    code = "duplicate_receipt"
    title = "This transfer is already a receipt"


class InvoiceAlreadyPaid(DomainError):
    status = 409
    code = "invoice_already_paid"
    title = "The invoice is paid already"


class InvoiceNotPayable(DomainError):
    status = 409
    code = "invoice_not_payable"
    title = "The invoice can no longer be paid"


def too_large() -> FileTooLarge:
    return uploads_too_large(MAX_RECEIPT_BYTES, "A receipt")


def receipt_path(receipt: Receipt) -> Path:
    return stored_path(STORE, receipt.stored_name)


def reference_key(reference: str) -> str:
    """A bank reference as the bank reads it: compatibility forms folded (full-width, ligatures),
    case folded, any script's decimal digits as 0-9 (Persian and Arabic-Indic ones included),
    and only letters and digits kept, so "TX-2024 001" and "tx2024001" are one transfer.
    Migration 0005 keeps a frozen copy: change both or neither."""
    out = []
    for ch in unicodedata.normalize("NFKC", reference or "").casefold():
        digit = unicodedata.decimal(ch, None)
        if digit is not None:
            out.append(str(digit))
        elif ch.isalnum():
            out.append(ch)
    return "".join(out)[:200]


def _may_act_for(actor: User, invoice: Invoice) -> bool:
    return may_act_for(actor, invoice.account_id, invoice.account.agent_id)


def _same_evidence(invoice: Invoice, *, sha256: str, key: str) -> Receipt | None:
    """The receipt that already holds this file or this bank reference: on `invoice`, any
    receipt of the file (a rejected file stays the same evidence) or a receipt of the
    reference not rejected; on any other invoice, of any account, a receipt not rejected (one
    transfer pays one invoice)."""
    same = Q(sha256=sha256)
    if key:
        same |= Q(reference_key=key) & ~Q(status=Receipt.Status.REJECTED)
    here = Q(invoice=invoice) & same
    elsewhere = (
        ~Q(invoice=invoice)
        & ~Q(status=Receipt.Status.REJECTED)
        & (Q(sha256=sha256) | (Q(reference_key=key) if key else Q(pk__in=[])))
    )
    return (
        Receipt.objects.filter(duplicate_of__isnull=True)
        .filter(here | elsewhere)
        .order_by("id")
        .first()
    )


def _duplicate(existing: Receipt, *, invoice: Invoice, sha256: str) -> DuplicateReceipt:
    same = "file" if existing.sha256 == sha256 else "bank reference"
    if existing.invoice_id != invoice.pk:
        # Another invoice, perhaps another account's: say what, not whose.
        return DuplicateReceipt(
            f"This {same} is already the receipt of another invoice; one "
            "bank transfer pays one invoice. Ask billing support if it "
            "was sent to the wrong invoice.",
            extra={"same": same.replace("bank ", ""), "other_invoice": True},
        )
    detail = (
        f"This {same} is already receipt {existing.pk} of invoice {invoice.number} "
        f"({existing.status})."
    )
    if existing.status == Receipt.Status.REJECTED:
        detail += (
            f" It was rejected: {existing.reason} The same file is the same evidence; "
            "upload a corrected receipt."
        )
    return DuplicateReceipt(
        detail, extra={"receipt": str(existing.pk), "same": same.replace("bank ", "")}
    )


def receipt_upload(*, invoice: Invoice, file: UploadedFile, reference: str, actor: User) -> Receipt:
    """Keep the receipt `file` for `invoice`.

    Refused, with nothing written: not the caller's invoice, not unpaid, an empty, too large
    or unsupported file, or a transfer the invoice already has a receipt of
    (`duplicate_receipt`: the same file, or the same bank reference on a receipt not rejected).
    """
    if not _may_act_for(actor, invoice):
        raise PermissionDenied("Not your invoice.")
    if not actor.is_staff_account:
        account_require_in_good_standing(actor)
    account_require_in_good_standing(invoice.account)
    if invoice.status != Invoice.Status.UNPAID:
        raise InvalidTransition(f"Invoice {invoice.number} is {invoice.status}, not unpaid.")
    reference = (reference or "").strip()
    if len(reference) > 200:
        raise ValidationFailed("reference: at most 200 characters.")
    key = reference_key(reference)
    stored = store_upload(file, store=STORE, max_bytes=MAX_RECEIPT_BYTES, what="A receipt")
    path = stored.path
    try:
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
            if locked.status != Invoice.Status.UNPAID:
                raise InvalidTransition(f"Invoice {locked.number} is {locked.status}, not unpaid.")
            # The invoice's row lock orders uploads on PostgreSQL; the constraints decide
            # wherever it does not (SQLite's single writer, a row inserted by hand).
            existing = _same_evidence(locked, sha256=stored.sha256, key=key)
            if existing is not None:
                raise _duplicate(existing, invoice=locked, sha256=stored.sha256)
            if Receipt.objects.filter(invoice=locked).count() >= MAX_RECEIPTS_PER_INVOICE:
                raise RateLimited(
                    f"An invoice takes at most {MAX_RECEIPTS_PER_INVOICE} "
                    "receipts; ask billing support."
                )
            try:
                with transaction.atomic():
                    receipt = Receipt.objects.create(
                        invoice=locked,
                        uploaded_by=actor,
                        stored_name=stored.stored_name,
                        original_name=stored.original_name,
                        content_type=stored.kind.content_type,
                        size=stored.size,
                        sha256=stored.sha256,
                        reference=reference,
                        reference_key=key,
                        created_at=timezone.now(),
                    )
            except IntegrityError:
                existing = _same_evidence(locked, sha256=stored.sha256, key=key)
                if existing is None:
                    raise
                raise _duplicate(existing, invoice=locked, sha256=stored.sha256) from None
            billing_events.receipt_uploaded(receipt, actor=actor)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return receipt


def _lock_pending(receipt: Receipt) -> Receipt:
    # `of=self`: lock the receipt only; the invoice is locked later, by the payment, in the
    # order every payment uses (account, invoice).
    locked = (
        Receipt.objects.select_for_update(of=("self",)).select_related("invoice").get(pk=receipt.pk)
    )
    if locked.status != Receipt.Status.PENDING:
        raise InvalidTransition(f"Receipt {locked.pk} is {locked.status} already.")
    return locked


def _cannot_take(invoice: Invoice, received: int, why: str = "") -> DomainError:
    """The refusal of a plain confirmation whose money the invoice cannot take."""
    then = (
        f" This receipt's {received} would go to the account's credit: confirm with "
        "to_credit to credit it, or reject the receipt."
    )
    extra = {"invoice": str(invoice.pk), "invoice_status": invoice.status}
    if invoice.status in INVOICE_PAID:
        paid = f" on {invoice.paid_at:%Y-%m-%d}" if invoice.paid_at else ""
        return InvoiceAlreadyPaid(
            f"Invoice {invoice.number} is paid already{paid}.{then}", extra=extra
        )
    return InvoiceNotPayable(
        f"{why or f'Invoice {invoice.number} is {invoice.status}.'}{then}", extra=extra
    )


def receipt_confirm(
    *, receipt: Receipt, actor: User, amount: int | None = None, to_credit: bool = False
) -> Receipt:
    """Record the money the receipt shows (default: the invoice total) and mark it confirmed.

    The payment goes through `invoice_pay_external`: it pays the invoice (which delivers what it
    was for) and puts anything above the total on credit. When the invoice cannot take the
    money (paid meanwhile some other way, void, its license deleted) the confirmation is
    refused (`invoice_already_paid` / `invoice_not_payable`) and nothing changes, unless staff
    decided `to_credit`: then all of it goes to the account's credit. `to_credit` permits,
    it does not force: an invoice that can take the money still takes it. A receipt is
    confirmed once.
    """
    require_staff(actor, "decide receipts")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0
    ):
        raise ValidationFailed("amount is a positive integer of minor units.")
    if not isinstance(to_credit, bool):
        raise ValidationFailed("to_credit is true or false.")
    with transaction.atomic():
        locked = _lock_pending(receipt)
        if locked.duplicate_of_id is not None:
            raise DuplicateReceipt(
                f"Receipt {locked.pk} repeats receipt {locked.duplicate_of_id}"
                " (the same file or bank reference); reject it.",
                extra={"receipt": str(locked.duplicate_of_id)},
            )
        invoice = locked.invoice
        received = invoice.total if amount is None else amount
        if received <= 0:
            raise ValidationFailed("Nothing to record: say the amount received.")
        if not to_credit and invoice.status != Invoice.Status.UNPAID:
            raise _cannot_take(invoice, received)
        result = invoice_pay_external(
            invoice=invoice,
            method=Payment.Method.BANK,
            gateway="bank",
            reference=locked.reference or f"receipt {locked.pk}",
            amount=received,
            actor=actor,
        )
        if result.outcome != "paid" and not to_credit:
            # Paid (or voided) between the check above and the invoice's lock: undo it all.
            invoice.refresh_from_db()
            raise _cannot_take(invoice, received, result.note)
        now = timezone.now()
        Receipt.objects.filter(pk=locked.pk).update(
            status=Receipt.Status.CONFIRMED,
            decided_by=actor,
            decided_at=now,
            amount_received=received,
        )
        billing_events.receipt_confirmed(
            locked,
            amount=received,
            outcome=result.outcome,
            credited=result.credited,
            to_credit=to_credit,
            note=result.note,
            actor=actor,
        )
    locked.refresh_from_db()
    return locked


def receipt_reject(*, receipt: Receipt, actor: User, reason: str) -> Receipt:
    """Refuse the receipt; the customer is emailed the reason once the decision commits."""
    require_staff(actor, "decide receipts")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the receipt is rejected.")
    if len(reason) > 300:
        raise ValidationFailed("reason: at most 300 characters.")
    with transaction.atomic():
        locked = _lock_pending(receipt)
        Receipt.objects.filter(pk=locked.pk).update(
            status=Receipt.Status.REJECTED,
            decided_by=actor,
            decided_at=timezone.now(),
            reason=reason,
        )
        billing_events.receipt_rejected(locked, actor=actor, reason=reason)
    locked.refresh_from_db()
    return locked
