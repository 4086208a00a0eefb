"""What billing's API takes and answers (invoices, payments and refunds, receipts): its schemas,
the OpenAPI text of the receipt upload and download, and the renderers of each object."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import StrictBool, StrictInt

from licensary.billing.models import Invoice, Receipt, Refund
from licensary.billing.receipts import MAX_RECEIPT_BYTES
from licensary.core.api import MoneyOut, money
from licensary.core.text import Id, Printable, column
from licensary.core.uploads import JPEG, PDF, PNG, WEBP

# Invoices ----------------------------------------------------------------------------------


class LineOut(Schema):
    kind: str
    description: str
    amount: MoneyOut
    license: str | None
    period_start: datetime | None
    period_end: datetime | None
    customer: str | None  # on an agent's invoice: the customer the line was sold for


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
                "customer": str(line.customer_id) if line.customer_id else None,
            }
            for line in inv.lines.all()
        ],
        "issued_at": inv.issued_at,
        "due_at": inv.due_at,
        "paid_at": inv.paid_at,
    }


# Payments and refunds ----------------------------------------------------------------------

Note = Annotated[str, Printable(300, multiline=True)]
GatewayName = Annotated[str, Printable(20)]


class CheckoutIn(Schema):
    gateway: GatewayName


class CheckoutOut(Schema):
    url: str


class DepositIn(Schema):
    amount: StrictInt  # minor units


class RefundIn(Schema):
    invoice: Id
    reason: Note


class RefundDecisionIn(Schema):
    destination: Annotated[str, Printable(16)] = "credit"
    amount: StrictInt | None = None
    note: Note = ""


class RefundRejectIn(Schema):
    note: Note


class RefundOut(Schema):
    id: str
    invoice: str
    status: str
    eligible: MoneyOut
    rule: str
    explanation: str
    destination: str
    reason: str
    created_at: datetime


class WebhookOut(Schema):
    received: bool
    outcome: str


def refund_out(r: Refund) -> dict:
    return {
        "id": str(r.pk),
        "invoice": str(r.invoice_id),
        "status": r.status,
        "eligible": money(r.eligible, r.currency),
        "rule": r.rule,
        "explanation": r.explanation,
        "destination": r.destination,
        "reason": r.reason,
        "created_at": r.created_at,
    }


# Receipts ----------------------------------------------------------------------------------

# The multipart form's `reference` (read by the route, not by a Schema).
ReceiptReference = Annotated[str, Printable(column(Receipt, "reference"))]


class ReceiptOut(Schema):
    id: str
    invoice: str
    invoice_number: int
    invoice_status: str
    # Still pending while the invoice was paid some other way: confirming it needs to_credit.
    invoice_already_paid: bool
    account: str
    status: str
    reference: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    file: str
    uploaded_by: str
    amount_received: MoneyOut | None
    reason: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class ConfirmIn(Schema):
    amount: StrictInt | None = None  # minor units received; default: the invoice total
    # Staff's decision that money the invoice cannot take (paid already, void) goes to the
    # account's credit; without it such a confirmation is refused and changes nothing.
    to_credit: StrictBool = False


class RejectIn(Schema):
    reason: Annotated[str, Printable(column(Receipt, "reason"), multiline=True)]


def receipt_out(r: Receipt) -> dict[str, Any]:
    inv = r.invoice
    return {
        "id": str(r.pk),
        "invoice": str(inv.pk),
        "invoice_number": inv.number,
        "invoice_status": inv.status,
        "invoice_already_paid": r.invoice_already_paid,
        "account": str(inv.account_id),
        "status": r.status,
        "reference": r.reference,
        "original_name": r.original_name,
        "content_type": r.content_type,
        "size": r.size,
        "sha256": r.sha256,
        "file": f"/api/v1/receipts/{r.pk}/file",
        "uploaded_by": str(r.uploaded_by_id),
        "amount_received": (
            money(r.amount_received, inv.currency) if r.amount_received is not None else None
        ),
        "reason": r.reason,
        "decided_by": str(r.decided_by_id) if r.decided_by_id else None,
        "decided_at": r.decided_at,
        "created_at": r.created_at,
    }


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": f"PNG, JPEG, WebP or PDF, judged by its content; at "
                            f"most {MAX_RECEIPT_BYTES} bytes.",
                        },
                        "reference": {
                            "type": "string",
                            "maxLength": 200,
                            "description": "The bank transfer's reference.",
                        },
                    },
                }
            }
        },
    },
}

FILE_DOC = {
    "responses": {
        200: {
            "description": "The file, with the type detected at upload.",
            "content": {
                kind.content_type: {"schema": {"type": "string", "format": "binary"}}
                for kind in (PNG, JPEG, WEBP, PDF)
            },
        }
    }
}
