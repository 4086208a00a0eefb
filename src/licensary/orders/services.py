"""Orders: placing them, delivering them once paid, and the staff review of held ones."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.services import account_require_in_good_standing
from licensary.audit.services import Change, audit_record
from licensary.billing.models import Invoice
from licensary.billing.services import (
    LineSpec,
    invoice_issue,
    invoice_refund_to_credit,
    invoice_void,
)
from licensary.catalog.models import Product
from licensary.core.errors import (
    IdentityRequired,
    InvalidTransition,
    IpTaken,
    PermissionDenied,
    ValidationFailed,
)
from licensary.core.ip import normalize_license_ip
from licensary.jobs.tasks import durable_task, enqueue
from licensary.licenses.models import License
from licensary.orders.models import Order

OS = Order.Status


def order_create(*, actor: User, product: Product, ip: str, account: User | None = None,
                 kind: str = Order.Kind.NEW) -> Order:
    """Place an order and issue its invoice: the license for one period plus the setup fee."""
    account = account or actor
    if account.pk != actor.pk and not actor.is_staff_account and account.agent_id != actor.pk:
        raise PermissionDenied("You can order only for yourself or your own customers.")
    if account.is_staff_account:
        raise ValidationFailed("Staff accounts do not hold licenses.")
    account_require_in_good_standing(actor)
    account_require_in_good_standing(account)
    ip = normalize_license_ip(ip)
    if not product.active:
        raise ValidationFailed(f"{product.name} is not on sale.", code="product_inactive")
    if product.requires_identity and account.identity != User.Identity.VERIFIED:
        raise IdentityRequired(f"{product.name} requires a verified identity.")
    if actor.kind == User.Kind.AGENT and actor.identity != User.Identity.VERIFIED and \
            settings.LICENSARY.get("AGENTS_MUST_BE_VERIFIED", False):
        raise IdentityRequired("Agents must be verified before selling.")
    if License.objects.filter(product=product, ip=ip, account=account).exclude(
            status=License.Status.DELETED).exists():
        raise IpTaken(f"You already hold {product.name} on {ip}; renew it instead.")
    now = timezone.now()
    with transaction.atomic():
        invoice = invoice_issue(
            account=account, purpose=Invoice.Purpose.ORDER, currency=product.currency,
            actor=actor, due_at=now + timedelta(days=settings.LICENSARY["NEW_ORDER_DUE_DAYS"]),
            lines=[
                LineSpec(kind="license", amount=product.price,
                         description=f"{product.name} ({product.kind} license) on {ip}, "
                                     f"{settings.LICENSARY['PERIOD_DAYS']} days"),
                LineSpec(kind="setup_fee", amount=product.setup_fee,
                         description=f"{product.name} setup fee"),
            ],
        )
        order = Order.objects.create(account=account, created_by=actor, product=product, ip=ip,
                                     kind=kind, created_at=now, invoice=invoice)
        audit_record(Change(action="order.created", object_type="order", object_id=order.pk,
                            actor=actor, account_id=account.pk,
                            after={"product": product.slug, "ip": ip, "invoice": invoice.number,
                                   "status": order.status}))
    return order


def _set_status(order: Order, *, new: str, actor: User | None, reason: str = "",
                **fields: object) -> Order:
    """Compare-and-swap the order's status, with its audit entry."""
    old = order.status
    updated = Order.objects.filter(pk=order.pk, status=old).update(status=new, **fields)
    if updated != 1:
        raise InvalidTransition(f"Order {order.pk} changed meanwhile; try again.")
    for key, value in fields.items():
        setattr(order, key, value)
    order.status = new
    audit_record(Change(action=f"order.{new}", object_type="order", object_id=order.pk,
                        actor=actor, actor_label="" if actor else "system:delivery",
                        account_id=order.account_id, before={"status": old},
                        after={"status": new,
                               **{k: getattr(v, "pk", v) for k, v in fields.items() if v}},
                        reason=reason))
    return order


def order_on_paid(*, order: Order, actor: User | None) -> Order:
    """In the payment's transaction: queue delivery (nothing lost if we die after commit)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OS.AWAITING_PAYMENT:
        raise InvalidTransition(f"Order {order.pk} is {order.status}.")
    _set_status(order, new=OS.PROCESSING, actor=actor, reason="invoice paid")
    enqueue(deliver_order, order_id=order.pk)
    return order


@durable_task
def deliver_order(*, order_id: int) -> str:
    """The delivery job: issue the license, or hold the order with its cause (rule 2)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("product").get(pk=order_id)
        if order.status != OS.PROCESSING:
            return f"order {order_id} is {order.status}; nothing to do"
        order_deliver(order=order, actor=None)
        return f"order {order_id} {order.status}"


def order_deliver(*, order: Order, actor: User | None, force: bool = False) -> Order:
    """Deliver a locked, paid order now; hold it when the IP is taken here."""
    from licensary.licenses.services import SlotTaken, license_issue

    if order.product.kind != Product.Kind.OWN:
        return _hold(order, Order.HoldReason.SUPPLIER_UNAVAILABLE,
                     "no manufacturer supplier is connected yet", actor)
    try:
        lic = license_issue(order=order, actor=actor)
    except SlotTaken as taken:
        if force:
            raise IpTaken("The IP still holds a live license for this product.") from None
        holder = taken.holder
        detail = (f"license {holder.pk} ({holder.status}) of account {holder.account_id}"
                  if holder else "taken by a concurrent order")
        return _hold(order, Order.HoldReason.IP_REGISTERED_HERE, detail, actor)
    return _set_status(order, new=OS.COMPLETED, actor=actor, reason="delivered",
                       license=lic, completed_at=timezone.now(), hold_reason=None,
                       held_at=None)


def _hold(order: Order, reason: str, detail: str, actor: User | None) -> Order:
    if order.status == OS.ON_HOLD:  # a retry that failed again keeps its original clock
        Order.objects.filter(pk=order.pk).update(hold_reason=reason, hold_detail=detail[:300])
        order.hold_reason, order.hold_detail = reason, detail
        return order
    return _set_status(order, new=OS.ON_HOLD, actor=actor, reason=f"{reason}: {detail}",
                       hold_reason=reason, held_at=timezone.now(), hold_detail=detail[:300])


def _require_staff(actor: User) -> None:
    if not actor.is_staff_account:
        raise PermissionDenied("Only staff review held orders.")


def _locked_held(order: Order) -> Order:
    locked = Order.objects.select_for_update().select_related("product").get(pk=order.pk)
    if locked.status != OS.ON_HOLD:
        raise InvalidTransition(f"Order {locked.pk} is {locked.status}, not on hold.")
    return locked


def order_retry(*, order: Order, actor: User) -> Order:
    """Try delivering a held order again now; it stays held (same clock) if it fails again."""
    _require_staff(actor)
    with transaction.atomic():
        return order_deliver(order=_locked_held(order), actor=actor)


def order_approve(*, order: Order, actor: User, note: str = "") -> Order:
    """Staff deliver a held order; rule 3 still holds (`ip_taken` if the slot is live)."""
    _require_staff(actor)
    with transaction.atomic():
        locked = _locked_held(order)
        Order.objects.filter(pk=locked.pk).update(decision_note=note[:300])
        return order_deliver(order=locked, actor=actor, force=True)


def order_reject(*, order: Order, actor: User, note: str = "") -> Order:
    """Staff reject a held order: it is refunded in full to the account's credit (rule 7)."""
    _require_staff(actor)
    with transaction.atomic():
        locked = _locked_held(order)
        if locked.invoice.total:
            invoice_refund_to_credit(invoice=locked.invoice, amount=locked.invoice.total,
                                     reason=f"order {locked.pk} rejected", actor=actor)
        return _set_status(locked, new=OS.REJECTED, actor=actor, reason=note or "rejected",
                           hold_reason=None, decision_note=note[:300])


def order_cancel(*, order: Order, actor: User) -> Order:
    """The customer withdraws an unpaid order; its invoice is voided."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OS.AWAITING_PAYMENT:
            raise InvalidTransition(f"Order {locked.pk} is {locked.status}; only unpaid orders "
                                    "can be canceled.")
        invoice_void(invoice=locked.invoice, reason=f"order {locked.pk} canceled", actor=actor)
        return _set_status(locked, new=OS.CANCELED, actor=actor, reason="canceled by the buyer")
