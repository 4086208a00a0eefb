"""Delivering a paid order (rule 2): the delivery job, an own license issued here, a
manufacturer's bought from its suppliers in failover order, and staff's retry of a held order.

Delivery sits above the order's own state changes (`orders.services`: complete, hold) and
calls the supplier adapters (`licensary.suppliers`), which only talk to vendors and answer.

The supplier is never called inside a database transaction: the intent (an
`UpstreamOperation` with our own op_id) is committed first, the call is made, and the
outcome is committed after. A worker that dies anywhere in between leaves the intent
pending; the retried job reuses the same op_id, and the adapter's provisioning looks the IP
up before adding, so no second license is ever bought.
"""

from django.db import transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.catalog.models import Product
from licensary.core.db import with_retries
from licensary.core.errors import DomainError, InvalidTransition, ValidationFailed
from licensary.jobs.tasks import URGENT, durable_task, enqueue
from licensary.licenses.lifecycle import license_live_holder
from licensary.licenses.models import License
from licensary.licenses.ownership import license_release_claimed
from licensary.licenses.rules import CLAIMED, effective_status
from licensary.licenses.upstream import upstream_sync_enqueue
from licensary.orders import events as order_events
from licensary.orders.models import Order
from licensary.orders.services import _set_status, hold_order, order_complete
from licensary.suppliers.base import (
    IpTakenUpstream,
    Rejected,
    SupplierError,
    SupplierUnavailable,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
    UpstreamStatus,
)
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter, supplier_alert

OS = Order.Status
DELIVERABLE = (OS.PROCESSING, OS.ON_HOLD)


def order_on_paid(*, order: Order, actor: User | None) -> Order:
    """In the payment's transaction: queue delivery (nothing lost if we die after commit)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OS.AWAITING_PAYMENT:
        raise InvalidTransition(f"Order {order.pk} is {order.status}.")
    before = _set_status(order, new=OS.PROCESSING)
    order_events.order_processing(order, before=before, actor=actor)
    enqueue(deliver_order, order_id=order.pk)
    return order


def _give_up_delivery(*, order_id: int) -> None:
    def hold() -> Order:
        with transaction.atomic():
            return hold_order(
                order_id=order_id,
                reason=Order.HoldReason.SUPPLIER_UNAVAILABLE,
                detail="the suppliers could not be reached after every retry",
                actor=None,
            )

    with_retries(hold)


@durable_task(on_give_up=_give_up_delivery, priority=URGENT)
def deliver_order(*, order_id: int) -> str:
    """The delivery job: issue the license, or hold the order with its cause (rule 2)."""
    order = with_retries(lambda: order_deliver_now(order_id=order_id, actor=None))
    return f"order {order_id} {order.status}"


def order_deliver_now(
    *, order_id: int, actor: User | None, only_supplier: str | None = None
) -> Order:
    """Deliver a paid (processing or held) order now, or hold it with its cause."""
    order = Order.objects.select_related("product").get(pk=order_id)
    if order.product.kind == Product.Kind.MANUFACTURER:
        return order_deliver_upstream(order_id=order_id, actor=actor, only_supplier=only_supplier)
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").get(pk=order_id)
        if order.status not in DELIVERABLE:
            return order
        _free_claimed_slot(order, actor=actor)
        holder = license_live_holder(product_id=order.product_id, ip=order.ip)
        if holder is not None:
            return hold_order(
                order_id=order.pk,
                reason=Order.HoldReason.IP_REGISTERED_HERE,
                detail=f"license {holder.pk} ({effective_status(holder, timezone.now())}) "
                f"of account {holder.account_id}",
                actor=actor,
            )
        return order_complete(order_id=order.pk, actor=actor)


def order_deliver_upstream(
    *, order_id: int, actor: User | None, only_supplier: str | None = None
) -> Order:
    """Try each supplier in order; hold the order with its cause when none delivers.

    Raises `Transient` (the job retries with backoff) when a supplier could not be reached;
    the order stays as it was.
    """
    order = Order.objects.select_related("product").get(pk=order_id)
    if order.status not in DELIVERABLE:
        return order
    product = order.product
    if order.kind == Order.Kind.CLAIM:
        taken = _take_over_claimed_upstream(order, actor=actor)
        if taken is not None:
            return taken
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
                found = adapter.find(product, order.ip)  # did the lost call act?
                if found is None:
                    raise Transient(
                        "outcome unknown and nothing found upstream; retrying", supplier=name
                    ) from None
                upstream = found
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


def _claimed_holder(order: Order) -> License | None:
    """The license a claim order takes the slot of: the live one on its product and IP,
    canceled by an approved claim, of another account."""
    if order.kind != Order.Kind.CLAIM:
        return None
    holder = (
        License.objects.select_for_update()
        .filter(product_id=order.product_id, ip=order.ip)
        .exclude(status=License.Status.DELETED)
        .first()
    )
    if (
        holder is None
        or holder.cancel_reason != CLAIMED
        or holder.status != License.Status.CANCELED
        or holder.account_id == order.account_id
    ):
        return None
    return holder


def _free_claimed_slot(order: Order, *, actor: User | None) -> None:
    """A claim order's delivery deletes the claimed license first, in its own transaction:
    the new license takes the slot in the transaction that frees it (rule 10)."""
    holder = _claimed_holder(order)
    if holder is not None:
        license_release_claimed(license=holder, order=order.pk, actor=actor)


def _take_over_claimed_upstream(order: Order, *, actor: User | None) -> Order | None:
    """A manufacturer claim: the claimant's license takes the claimed one's upstream license
    (its supplier reference; suspended, then made active by its sync job), so none is bought
    twice and the old owner's is not left running. None when there is no such reference (the
    order is then delivered as any other, the slot freed first)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").get(pk=order.pk)
        if order.status not in DELIVERABLE:
            return order
        holder = _claimed_holder(order)
        if holder is None:
            return None
        supplier, reference = holder.upstream_supplier, holder.upstream_reference
        license_release_claimed(license=holder, order=order.pk, actor=actor)
        if not (supplier and reference):
            return None
        upstream = UpstreamLicense(
            reference=reference,
            ip=order.ip,
            package=order.product.upstream_package,
            status=UpstreamStatus.SUSPENDED,
        )
        done = order_complete(order_id=order.pk, actor=actor, upstream=(supplier, upstream))
        if done.license_id is not None:
            upstream_sync_enqueue([done.license_id])
        return done


def order_retry(*, order: Order, actor: User, supplier: str | None = None) -> Order:
    """Try delivering a held order again now (optionally through one supplier); if it fails
    again it stays held with its original clock."""
    require_staff(actor, "review held orders")
    current = Order.objects.select_related("product").get(pk=order.pk)
    if current.status != OS.ON_HOLD:  # checked again under the lock by the delivery itself
        raise InvalidTransition(f"Order {current.pk} is {current.status}, not on hold.")
    if supplier is not None and supplier not in order.product.suppliers:
        raise ValidationFailed(f"{supplier!r} is not one of this product's suppliers.")
    try:
        return with_retries(
            lambda: order_deliver_now(order_id=order.pk, actor=actor, only_supplier=supplier)
        )
    except SupplierError as exc:
        raise DomainError(
            f"The supplier could not be reached: {exc}", code="supplier_unavailable", status=503
        ) from exc
