"""Delivering a manufacturer order through its suppliers, in failover order (rule 2).

The supplier is never called inside a database transaction: the intent (an
`UpstreamOperation` with our own op_id) is committed first, the call is made, and the
outcome is committed after. A worker that dies anywhere in between leaves the intent
pending; the retried job reuses the same op_id, and the adapter's provisioning looks the IP
up before adding, so no second license is ever bought.
"""

from django.db import transaction

from licensary.accounts.models import User
from licensary.licenses.lifecycle import license_live_holder
from licensary.orders.models import Order
from licensary.suppliers.base import (
    IpTakenUpstream,
    Rejected,
    SupplierUnavailable,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
)
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter, supplier_alert

DELIVERABLE = (Order.Status.PROCESSING, Order.Status.ON_HOLD)


def order_deliver_upstream(
    *, order_id: int, actor: User | None, only_supplier: str | None = None
) -> Order:
    """Try each supplier in order; hold the order with its cause when none delivers.

    Raises `Transient` (the job retries with backoff) when a supplier could not be reached;
    the order stays as it was.
    """
    from licensary.orders.services import hold_order, order_complete

    order = Order.objects.select_related("product").get(pk=order_id)
    if order.status not in DELIVERABLE:
        return order
    product = order.product
    holder = license_live_holder(product_id=product.pk, ip=order.ip)
    if holder is not None:
        with transaction.atomic():
            return hold_order(
                order_id=order.pk,
                reason=Order.HoldReason.IP_REGISTERED_HERE,
                detail=f"license {holder.pk} of account {holder.account_id}",
                actor=actor,
            )
    names = [only_supplier] if only_supplier else list(product.suppliers)
    failures: list[str] = []
    for name in names:
        op = operation_start(supplier=name, operation="provision", ip=order.ip, order_id=order.pk)
        try:
            adapter = supplier_adapter(name)
            try:
                upstream = adapter.provision(op.op_id, product, order.ip)
            except UnknownOutcome:
                upstream = adapter.find(product, order.ip)  # did the lost call act?
                if upstream is None:
                    raise Transient(
                        "outcome unknown and nothing found upstream; retrying", supplier=name
                    ) from None
        except IpTakenUpstream as exc:
            operation_finish(op, ok=False, error=str(exc))
            with transaction.atomic():
                return hold_order(
                    order_id=order.pk,
                    reason=Order.HoldReason.IP_REGISTERED_UPSTREAM,
                    detail=f"{name}: {exc.reason}",
                    actor=actor,
                )
        except SupplierUnavailable as exc:
            operation_finish(op, ok=False, error=str(exc))
            supplier_alert(name, exc.reason)
            failures.append(f"{name}: {exc.reason}")
            continue
        except Rejected as exc:
            operation_finish(op, ok=False, error=str(exc))
            failures.append(f"{name}: refused: {exc.reason}")
            continue
        with transaction.atomic():  # the intent closes with the order, or not at all
            operation_finish(op, ok=True, reference=upstream.reference)
            return order_complete(order_id=order.pk, actor=actor, upstream=(name, upstream))
    with transaction.atomic():
        return hold_order(
            order_id=order.pk,
            reason=Order.HoldReason.SUPPLIER_UNAVAILABLE,
            detail="; ".join(failures) or "no supplier is listed for the product",
            actor=actor,
        )


__all__ = ["UpstreamLicense", "order_deliver_upstream"]
