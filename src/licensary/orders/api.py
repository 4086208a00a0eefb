"""Orders and the staff review queue of held orders."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, require_staff
from licensary.catalog.selectors import product_get_by_ref
from licensary.core.api import (
    Cursor,
    Limit,
    Page,
    StatusFilter,
    get_visible,
    paginate,
    with_status,
)
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id
from licensary.orders.delivery import order_retry
from licensary.orders.schemas import (
    ApproveIn,
    HeldOrderOut,
    OrderIn,
    OrderOut,
    OrderRejectIn,
    RetryIn,
    held_order_out,
    order_out,
)
from licensary.orders.selectors import held_orders, visible_orders
from licensary.orders.services import order_approve, order_cancel, order_create, order_reject

router = Router(tags=["orders"])


@router.post("/orders", response={201: OrderOut})
@idempotent
def create_order(request: AuthedRequest[User], payload: OrderIn) -> Status:
    account: User | None = None
    if payload.account is not None:
        account = account_get_visible(user=request.auth, account_id=payload.account)
    order = order_create(
        actor=request.auth,
        product=product_get_by_ref(payload.product),
        ip=payload.ip,
        account=account,
    )
    return Status(201, order_out(order))


@router.get("/orders", response=Page[OrderOut])
def list_orders(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_orders(request.auth), status)
    return paginate(qs, limit=limit, cursor=cursor, render=order_out)


@router.get("/orders/{order_id}", response=OrderOut)
def get_order(request: AuthedRequest[User], order_id: Id) -> dict:
    return order_out(get_visible(visible_orders(request.auth), order_id))


@router.post("/orders/{order_id}/cancel", response=OrderOut)
def cancel_order(request: AuthedRequest[User], order_id: Id) -> dict:
    return order_out(
        order_cancel(order=get_visible(visible_orders(request.auth), order_id), actor=request.auth)
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
    return paginate(
        held_orders(), limit=limit, cursor=cursor, render=held_order_out, order=("held_at", "pk")
    )


@router.post("/orders/{order_id}/retry", response=OrderOut, tags=["review"])
def retry_order(request: AuthedRequest[User], order_id: Id, payload: RetryIn | None = None) -> dict:
    order = get_visible(visible_orders(request.auth), order_id)
    return order_out(
        order_retry(order=order, actor=request.auth, supplier=payload.supplier if payload else None)
    )


@router.post("/orders/{order_id}/approve", response=OrderOut, tags=["review"])
def approve_order(
    request: AuthedRequest[User], order_id: Id, payload: ApproveIn | None = None
) -> dict:
    order = get_visible(visible_orders(request.auth), order_id)
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
    order = get_visible(visible_orders(request.auth), order_id)
    payload = payload or OrderRejectIn()
    return order_out(
        order_reject(
            order=order, actor=request.auth, note=payload.note, destination=payload.destination
        )
    )
