"""Invoices and paying them."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.billing.schemas import InvoiceOut, invoice_out
from licensary.billing.selectors import visible_invoices
from licensary.billing.services import invoice_pay_with_credit
from licensary.core.api import Cursor, Limit, Page, StatusFilter, get_visible, paginate, with_status
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id

router = Router(tags=["billing"])


@router.get("/invoices", response=Page[InvoiceOut])
def list_invoices(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_invoices(request.auth), status)
    return paginate(qs, limit=limit, cursor=cursor, render=invoice_out)


@router.get("/invoices/{invoice_id}", response=InvoiceOut)
def get_invoice(request: AuthedRequest[User], invoice_id: Id) -> dict:
    return invoice_out(get_visible(visible_invoices(request.auth), invoice_id))


@router.post("/invoices/{invoice_id}/pay-with-credit", response={200: InvoiceOut})
@idempotent
def pay_with_credit(request: AuthedRequest[User], invoice_id: Id) -> Status:
    invoice = get_visible(visible_invoices(request.auth), invoice_id)
    paid = invoice_pay_with_credit(invoice=invoice, actor=request.auth)
    return Status(200, invoice_out(get_visible(visible_invoices(request.auth), paid.pk)))
