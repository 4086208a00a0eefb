"""What the orders API takes and answers: its schemas and the renderers of an order."""

import math
from datetime import datetime
from typing import Annotated

from django.conf import settings
from django.utils import timezone
from ninja import Schema

from licensary.catalog.models import Product
from licensary.core.text import Id, Printable, column
from licensary.licenses.models import License
from licensary.orders.models import Order

Note = Annotated[str, Printable(column(Order, "decision_note"), multiline=True)]
Supplier = Annotated[str, Printable(column(License, "upstream_supplier"))]
# A product by slug or id; an address (checked and made canonical by the service).
ProductRef = Annotated[str, Printable(column(Product, "slug"))]
Ip = Annotated[str, Printable(64)]


class OrderIn(Schema):
    product: ProductRef
    ip: Ip
    account: Id | None = None


class OrderOut(Schema):
    id: str
    account: str
    product: str
    ip: str
    kind: str
    status: str
    hold_reason: str | None
    held_at: datetime | None
    invoice: str
    license: str | None
    created_at: datetime


class HeldOrderOut(OrderOut):
    age_hours: float
    overdue: bool
    hold_detail: str


class OrderRejectIn(Schema):
    note: Note = ""
    destination: Annotated[str, Printable(16)] = (
        "credit"  # or "original": back through the gateway it was paid with
    )


class RetryIn(Schema):
    supplier: Supplier | None = None


UpstreamReference = Annotated[str, Printable(column(License, "upstream_reference"))]


class ApproveIn(Schema):
    note: Note = ""
    supplier: Supplier | None = None
    upstream_reference: Annotated[str, Printable(column(License, "upstream_reference"))] | None = (
        None
    )


def order_out(o: Order) -> dict:
    return {
        "id": str(o.pk),
        "account": str(o.account_id),
        "product": o.product.slug,
        "ip": o.ip,
        "kind": o.kind,
        "status": o.status,
        "hold_reason": o.hold_reason,
        "held_at": o.held_at,
        "invoice": str(o.invoice_id),
        "license": str(o.license_id) if o.license_id else None,
        "created_at": o.created_at,
    }


def held_order_out(o: Order) -> dict:
    assert o.held_at is not None, "a held order records when it was held"
    age = timezone.now() - o.held_at
    target = settings.LICENSARY["REVIEW_TARGET_HOURS"] * 3600
    return order_out(o) | {
        # Floored, so a held order never shows 48.0 hours a second before it is overdue.
        "age_hours": math.floor(age.total_seconds() / 36) / 100,
        "overdue": age.total_seconds() >= target,
        "hold_detail": o.hold_detail,
    }
