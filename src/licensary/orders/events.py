"""What happens to orders, as events: each writes its audit entry and is announced to the
apps that react (`audit.bus`), in the caller's transaction.

A status change is announced by the status it reached (`order.completed`, `order.on_hold`,
...): agent webhooks subscribe to those names. Each is called right after the order's
compare-and-swap, with the status it had (`before`) and the order's new fields set on it.
"""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.orders.models import Order


def order_created(order: Order, *, actor: User) -> None:
    """`order.created`: placed, its invoice issued."""
    record(
        Change(
            action="order.created",
            object_type="order",
            object_id=order.pk,
            actor=actor,
            account_id=order.account_id,
            after={
                "product": order.product.slug,
                "ip": order.ip,
                "invoice": order.invoice.number,
                "status": order.status,
            },
        )
    )


def order_processing(order: Order, *, before: str, actor: User | None) -> None:
    """`order.processing`: its invoice is paid and its delivery queued."""
    _status_changed(order, "order.processing", before=before, actor=actor, reason="invoice paid")


def order_completed(order: Order, *, before: str, actor: User | None, reason: str) -> None:
    """`order.completed`: its license is issued (delivered, or approved by staff)."""
    _status_changed(
        order,
        "order.completed",
        before=before,
        actor=actor,
        reason=reason,
        license=order.license_id,
        completed_at=order.completed_at,
        decision_note=order.decision_note,
    )


def order_on_hold(order: Order, *, before: str, actor: User | None) -> None:
    """`order.on_hold`: held for staff with its cause (`hold_reason`, `hold_detail`)."""
    _status_changed(
        order,
        "order.on_hold",
        before=before,
        actor=actor,
        # The entry's reason is cut to 200 characters: the detail kept (300) says no less.
        reason=f"{order.hold_reason}: {order.hold_detail}",
        hold_reason=order.hold_reason,
        held_at=order.held_at,
        hold_detail=order.hold_detail,
    )


def order_rejected(order: Order, *, before: str, actor: User | None, reason: str) -> None:
    """`order.rejected`: never to be delivered; its refund is granted or queued with it."""
    _status_changed(
        order,
        "order.rejected",
        before=before,
        actor=actor,
        reason=reason,
        decision_note=order.decision_note,
    )


def order_canceled(
    order: Order, *, before: str, actor: User, reason: str = "canceled by the buyer"
) -> None:
    """`order.canceled`: withdrawn unpaid by its buyer (or with its account banned), its
    invoice voided."""
    _status_changed(order, "order.canceled", before=before, actor=actor, reason=reason)


def _status_changed(
    order: Order, action: str, *, before: str, actor: User | None, reason: str, **fields: object
) -> None:
    # `fields`: what else the transition set, for the entry; empty values are left out.
    assert action == f"order.{order.status}", f"{action} announced for a {order.status} order"
    record(
        Change(
            action=action,
            object_type="order",
            object_id=order.pk,
            actor=actor,
            actor_label="" if actor else "system:delivery",
            account_id=order.account_id,
            before={"status": before},
            after={"status": order.status, **{k: v for k, v in fields.items() if v}},
            reason=reason,
        )
    )
