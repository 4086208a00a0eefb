"""Bank-transfer receipts: upload on an invoice, read, download, and staff's decision."""

from django.http import FileResponse
from ninja import Router, Status
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.billing.models import Invoice
from licensary.billing.receipts import (
    MAX_RECEIPT_BYTES,
    receipt_confirm,
    receipt_path,
    receipt_reject,
    receipt_upload,
)
from licensary.billing.schemas import (
    FILE_DOC,
    UPLOAD_DOC,
    ConfirmIn,
    ReceiptOut,
    ReceiptReference,
    RejectIn,
    receipt_out,
)
from licensary.billing.selectors import (
    receipt_files_visible_to,
    receipts_invoice_already_paid,
    receipts_visible_to,
    visible_invoices,
)
from licensary.core.api import Cursor, Limit, Page, StatusFilter, get_visible, paginate, with_status
from licensary.core.errors import UnsupportedMediaType, ValidationFailed
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id
from licensary.core.uploads import file_response, limit_upload

router = Router(tags=["receipts"])

# The multipart form's `reference`, held to the same rule as a JSON field.
_reference = TypeAdapter(ReceiptReference)


@router.post(
    "/invoices/{invoice_id}/receipts",
    response={201: ReceiptOut},
    openapi_extra=UPLOAD_DOC,
    summary="Upload a bank-transfer receipt on an unpaid invoice (multipart)",
)
def upload_receipt(request: AuthedRequest[User], invoice_id: Id) -> Status:
    invoice = get_visible(visible_invoices(request.auth), invoice_id)
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "A receipt is uploaded as multipart/form-data (the fields "
            f"file and reference), not {request.content_type or 'unnamed'}."
        )
    limit_upload(request, max_bytes=MAX_RECEIPT_BYTES, what="A receipt")
    return _upload_receipt(request, invoice=invoice)


@idempotent
def _upload_receipt(request: AuthedRequest[User], *, invoice: Invoice) -> Status:
    file = request.FILES.get("file")
    if file is None:
        raise ValidationFailed("file: a receipt file is required (multipart field 'file').")
    try:
        reference = _reference.validate_python(request.POST.get("reference", ""))
    except PydanticValidationError as exc:
        raise ValidationFailed(f"reference: {exc.errors()[0]['msg']}.") from None
    receipt = receipt_upload(invoice=invoice, file=file, reference=reference, actor=request.auth)
    return Status(201, receipt_out(get_visible(receipts_visible_to(request.auth), receipt.pk)))


@router.get(
    "/invoices/{invoice_id}/receipts",
    response=Page[ReceiptOut],
    summary="The receipts uploaded on an invoice, newest first",
)
def list_invoice_receipts(
    request: AuthedRequest[User], invoice_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    # Only whether the caller may see the invoice: its lines are not shown, so not fetched.
    invoice = get_visible(visible_invoices(request.auth).prefetch_related(None), invoice_id)
    return paginate(
        receipts_visible_to(request.auth).filter(invoice=invoice),
        limit=limit,
        cursor=cursor,
        render=receipt_out,
    )


@router.get(
    "/receipts",
    response=Page[ReceiptOut],
    summary="Receipts (staff: all; `?status=pending` is the queue to decide; "
    "`?invoice_already_paid=true` the pending ones whose invoice is paid)",
)
def list_receipts(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    invoice_already_paid: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(receipts_visible_to(request.auth), status)
    if invoice_already_paid is not None:
        qs = receipts_invoice_already_paid(qs, invoice_already_paid)
    return paginate(qs, limit=limit, cursor=cursor, render=receipt_out)


@router.get("/receipts/{receipt_id}", response=ReceiptOut)
def get_receipt(request: AuthedRequest[User], receipt_id: Id) -> dict:
    return receipt_out(get_visible(receipts_visible_to(request.auth), receipt_id))


@router.get(
    "/receipts/{receipt_id}/file",
    summary="The receipt's file, as an attachment (the invoice's owner and staff)",
    openapi_extra=FILE_DOC,
)
def get_receipt_file(request: AuthedRequest[User], receipt_id: Id) -> FileResponse:
    receipt = get_visible(receipt_files_visible_to(request.auth), receipt_id)
    extension = receipt.stored_name.rsplit(".", 1)[-1]
    return file_response(
        receipt_path(receipt),
        content_type=receipt.content_type,
        filename=f"receipt-{receipt.pk}.{extension}",
    )


@router.post(
    "/receipts/{receipt_id}/confirm",
    response={200: ReceiptOut},
    summary="Staff: record the transfer (default: the invoice total) and pay with it; "
    "`to_credit: true` when the invoice is paid already or void",
)
@idempotent
def confirm_receipt(
    request: AuthedRequest[User], receipt_id: Id, payload: ConfirmIn | None = None
) -> Status:
    require_staff(request.auth, "decide receipts")
    receipt = get_visible(receipts_visible_to(request.auth), receipt_id)
    receipt_confirm(
        receipt=receipt,
        actor=request.auth,
        amount=payload.amount if payload else None,
        to_credit=payload.to_credit if payload else False,
    )
    return Status(200, receipt_out(get_visible(receipts_visible_to(request.auth), receipt.pk)))


@router.post(
    "/receipts/{receipt_id}/reject",
    response=ReceiptOut,
    summary="Staff: refuse the receipt with a reason the customer is told",
)
def reject_receipt(request: AuthedRequest[User], receipt_id: Id, payload: RejectIn) -> dict:
    require_staff(request.auth, "decide receipts")
    receipt = get_visible(receipts_visible_to(request.auth), receipt_id)
    receipt_reject(receipt=receipt, actor=request.auth, reason=payload.reason)
    return receipt_out(get_visible(receipts_visible_to(request.auth), receipt.pk))
