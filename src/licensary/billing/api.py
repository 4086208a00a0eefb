"""Invoices and paying them."""

from datetime import datetime

from django.db.models import QuerySet
from ninja import Router, Schema, Status

from licensary.accounts.models import User
from licensary.accounts.policy import visible
from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_with_credit
from licensary.core.api import (
    Cursor,
    Limit,
    MoneyOut,
    Page,
    StatusFilter,
    get_visible,
    money,
    paginate,
    with_status,
)
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id

router = Router(tags=["billing"])


class LineOut(Schema):
    kind: str
    description: str
    amount: MoneyOut
    license: str | None
    period_start: datetime | None
    period_end: datetime | None


class InvoiceOut(Schema):
    id: str
    number: int
    account: str
    status: str
    purpose: str
    total: MoneyOut
    lines: list[LineOut]
    issued_at: datetime
    due_at: datetime
    paid_at: datetime | None


def invoice_out(inv: Invoice) -> dict:
    return {
        "id": str(inv.pk),
        "number": inv.number,
        "account": str(inv.account_id),
        "status": inv.status,
        "purpose": inv.purpose,
        "total": money(inv.total, inv.currency),
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "amount": money(line.amount, inv.currency),
                "license": str(line.license_id) if line.license_id else None,
                "period_start": line.period_start,
                "period_end": line.period_end,
            }
            for line in inv.lines.all()
        ],
        "issued_at": inv.issued_at,
        "due_at": inv.due_at,
        "paid_at": inv.paid_at,
    }


def visible_invoices(request: AuthedRequest[User]) -> QuerySet[Invoice]:
    return visible(Invoice.objects.prefetch_related("lines"), request.auth)


@router.get("/invoices", response=Page[InvoiceOut])
def list_invoices(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_invoices(request), status)
    return paginate(qs, limit=limit, cursor=cursor, render=invoice_out)


@router.get("/invoices/{invoice_id}", response=InvoiceOut)
def get_invoice(request: AuthedRequest[User], invoice_id: Id) -> dict:
    return invoice_out(get_visible(visible_invoices(request), invoice_id))


@router.post("/invoices/{invoice_id}/pay-with-credit", response={200: InvoiceOut})
@idempotent
def pay_with_credit(request: AuthedRequest[User], invoice_id: Id) -> Status:
    invoice = get_visible(visible_invoices(request), invoice_id)
    paid = invoice_pay_with_credit(invoice=invoice, actor=request.auth)
    return Status(200, invoice_out(get_visible(visible_invoices(request), paid.pk)))
