"""Orders and the staff review queue of held orders."""

import math
from datetime import datetime
from typing import Annotated

from django.conf import settings
from django.utils import timezone
from ninja import Router, Schema, Status

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, require_staff, visible
from licensary.catalog.models import Product
from licensary.core.api import (
    Cursor,
    Limit,
    Page,
    StatusFilter,
    get_visible,
    paginate,
    parse_id,
    with_status,
)
from licensary.core.errors import NotFound
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id, Printable, column
from licensary.licenses.models import License
from licensary.orders.delivery import order_retry
from licensary.orders.models import Order
from licensary.orders.services import order_approve, order_cancel, order_create, order_reject

router = Router(tags=["orders"])


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


def visible_orders(request: AuthedRequest[User]):
    return visible(Order.objects.select_related("product"), request.auth)


def _product(ref: str) -> Product:
    qs = Product.objects.all()
    by_id = ref.isascii() and ref.isdigit()
    product = qs.filter(pk=parse_id(ref)).first() if by_id else qs.filter(slug=ref).first()
    if product is None:
        raise NotFound(f"No product {ref!r}.")
    return product


@router.post("/orders", response={201: OrderOut})
@idempotent
def create_order(request: AuthedRequest[User], payload: OrderIn) -> Status:
    account: User | None = None
    if payload.account is not None:
        account = account_get_visible(user=request.auth, account_id=payload.account)
    order = order_create(
        actor=request.auth, product=_product(payload.product), ip=payload.ip, account=account
    )
    return Status(201, order_out(order))


@router.get("/orders", response=Page[OrderOut])
def list_orders(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_orders(request), status)
    return paginate(qs, limit=limit, cursor=cursor, render=order_out)


@router.get("/orders/{order_id}", response=OrderOut)
def get_order(request: AuthedRequest[User], order_id: Id) -> dict:
    return order_out(get_visible(visible_orders(request), order_id))


@router.post("/orders/{order_id}/cancel", response=OrderOut)
def cancel_order(request: AuthedRequest[User], order_id: Id) -> dict:
    return order_out(
        order_cancel(order=get_visible(visible_orders(request), order_id), actor=request.auth)
    )


@router.get(
    "/review-queue",
    response=Page[HeldOrderOut],
    tags=["review"],
    summary="Staff: held orders, oldest first, with their age against the target",
)
def review_queue(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "review held orders")
    held = Order.objects.filter(status=Order.Status.ON_HOLD).select_related("product")
    return paginate(
        held, limit=limit, cursor=cursor, render=held_order_out, order=("held_at", "pk")
    )


@router.post("/orders/{order_id}/retry", response=OrderOut, tags=["review"])
def retry_order(request: AuthedRequest[User], order_id: Id, payload: RetryIn | None = None) -> dict:
    order = get_visible(visible_orders(request), order_id)
    return order_out(
        order_retry(order=order, actor=request.auth, supplier=payload.supplier if payload else None)
    )


@router.post("/orders/{order_id}/approve", response=OrderOut, tags=["review"])
def approve_order(
    request: AuthedRequest[User], order_id: Id, payload: ApproveIn | None = None
) -> dict:
    order = get_visible(visible_orders(request), order_id)
    payload = payload or ApproveIn()
    return order_out(
        order_approve(
            order=order,
            actor=request.auth,
            note=payload.note,
            supplier=payload.supplier,
            upstream_reference=payload.upstream_reference,
        )
    )


@router.post("/orders/{order_id}/reject", response=OrderOut, tags=["review"])
def reject_order(
    request: AuthedRequest[User], order_id: Id, payload: OrderRejectIn | None = None
) -> dict:
    order = get_visible(visible_orders(request), order_id)
    payload = payload or OrderRejectIn()
    return order_out(
        order_reject(
            order=order, actor=request.auth, note=payload.note, destination=payload.destination
        )
    )
