"""Orders: placing them, the moves a delivery ends in (completed, held), and the staff review
of held ones. Delivering a paid order is `orders.delivery`, which calls these."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_act_for, require_staff
from licensary.accounts.services import account_require_in_good_standing
from licensary.billing.models import Invoice, Refund
from licensary.billing.refunds import refund_grant, refund_send_to_gateway
from licensary.billing.services import (
    LineSpec,
    invoice_issue,
    invoice_void,
    lock_for_money,
)
from licensary.catalog.models import Product, kind_words
from licensary.catalog.selectors import price_for
from licensary.core.db import with_retries
from licensary.core.errors import (
    DomainError,
    IdentityRequired,
    InvalidTransition,
    IpTaken,
    ValidationFailed,
)
from licensary.core.ip import normalize_license_ip
from licensary.jobs.tasks import durable_task, enqueue
from licensary.ledger.services import lock_credit_book
from licensary.licenses.lifecycle import license_live_holder
from licensary.licenses.models import License
from licensary.licenses.services import SlotTaken, UpstreamReferenceTaken, license_issue
from licensary.licenses.upstream import upstream_holder_recheck
from licensary.orders import events as order_events
from licensary.orders.models import Order
from licensary.suppliers.base import UpstreamLicense, UpstreamStatus

OS = Order.Status


def order_payer(*, actor: User, account: User) -> User:
    """Who pays an order placed by `actor` for `account`: an agent ordering for its customer
    pays it itself, at its wholesale price (rule 9); anyone else, the account."""
    if actor.kind == User.Kind.AGENT and account.agent_id == actor.pk:
        return actor
    return account


def order_create(
    *,
    actor: User,
    product: Product,
    ip: str,
    account: User | None = None,
    kind: str = Order.Kind.NEW,
    payer: User | None = None,
) -> Order:
    """Place an order and issue its invoice: the license for one period plus the setup fee.

    The invoice is the payer's (`order_payer`, or `payer`: the account or its agent), at the
    payer's price; its lines name the customer when the payer is the account's agent. A
    claim always pays the product's setup fee (rule 10): no wholesale price waives it.
    """
    account = account or actor
    require_act_for(
        actor, account, refusal="You can order only for yourself or your own customers."
    )
    if account.is_staff_account:
        raise ValidationFailed("Staff accounts do not hold licenses.")
    payer = payer or order_payer(actor=actor, account=account)
    if payer.pk not in (account.pk, account.agent_id):
        raise ValidationFailed("An order is paid by its account or the account's agent.")
    account_require_in_good_standing(actor)
    account_require_in_good_standing(account)
    if payer.pk != account.pk:
        account_require_in_good_standing(payer)
    ip = normalize_license_ip(ip)
    if not product.active:
        raise ValidationFailed(f"{product.name} is not on sale.", code="product_inactive")
    if product.requires_identity and account.identity != User.Identity.VERIFIED:
        raise IdentityRequired(f"{product.name} requires a verified identity.")
    seller = next((a for a in (actor, payer) if a.kind == User.Kind.AGENT), None)
    if (
        seller is not None
        and seller.identity != User.Identity.VERIFIED
        and settings.LICENSARY["AGENTS_MUST_BE_VERIFIED"]
    ):
        raise IdentityRequired("Agents must be verified before selling.")
    held = license_live_holder(product_id=product.pk, ip=ip)
    if held is not None and held.account_id == account.pk:
        raise IpTaken(
            f"You already hold license {held.pk} ({product.name} on {ip}); renew it "
            f"instead (POST /api/v1/licenses/{held.pk}/renew).",
            extra={"license": str(held.pk)},
        )
    quote = price_for(product, payer)
    setup_fee = product.setup_fee if kind == Order.Kind.CLAIM else quote.setup_fee
    sold_to = account.pk if payer.pk != account.pk else None
    for_whom = f", for {account.email}" if sold_to else ""
    now = timezone.now()
    with transaction.atomic():
        invoice = invoice_issue(
            account=payer,
            purpose=Invoice.Purpose.ORDER,
            currency=product.currency,
            actor=actor,
            due_at=now + timedelta(days=settings.LICENSARY["NEW_ORDER_DUE_DAYS"]),
            lines=[
                LineSpec(
                    kind="license",
                    amount=quote.price,
                    description=f"{product.name} ({kind_words(product.kind)}) on {ip}, "
                    f"{settings.LICENSARY['PERIOD_DAYS']} days{for_whom}",
                    customer_id=sold_to,
                ),
                LineSpec(
                    kind="setup_fee",
                    amount=setup_fee,
                    description=f"{product.name} setup fee{for_whom}",
                    customer_id=sold_to,
                ),
            ],
        )
        order = Order.objects.create(
            account=account,
            created_by=actor,
            product=product,
            ip=ip,
            kind=kind,
            created_at=now,
            invoice=invoice,
        )
        order_events.order_created(order, actor=actor)
    return order


def _set_status(order: Order, *, new: str, **fields: object) -> str:
    """Compare-and-swap the order's status (and `fields`, set on `order` too); returns the
    status it had. The caller records the transition's event (`orders.events`)."""
    old = order.status
    updated = Order.objects.filter(pk=order.pk, status=old).update(status=new, **fields)
    if updated != 1:
        raise InvalidTransition(f"Order {order.pk} changed meanwhile; try again.")
    for key, value in fields.items():
        setattr(order, key, value)
    order.status = new
    return old


def order_complete(
    *, order_id: int, actor: User | None, upstream: tuple[str, Any] | None = None
) -> Order:
    """Issue the license of a locked, deliverable order (in the caller's transaction).

    When the slot was taken meanwhile the order is held instead (`ip_registered_here`).
    """
    order = Order.objects.select_for_update().select_related("product", "invoice").get(pk=order_id)
    if order.status not in (OS.PROCESSING, OS.ON_HOLD):
        return order
    try:
        lic = license_issue(order=order, actor=actor, upstream=upstream)
    except UpstreamReferenceTaken as taken:
        assert upstream is not None and taken.holder is not None
        # The supplier has the holder's license on this order's IP, not on the holder's own:
        # its upstream state is put right (moved back to its IP, status made what it wants).
        upstream_holder_recheck(
            supplier=upstream[0],
            reference=upstream[1].reference,
            old_ip=upstream[1].ip,
            cause=f"order {order.pk} for {order.ip} was offered its "
            f"upstream license {upstream[1].reference}",
        )
        return hold_order(
            order_id=order.pk,
            reason=Order.HoldReason.IP_REGISTERED_HERE,
            detail=f"upstream license {upstream[1].reference} at {upstream[0]} "
            f"belongs to license {taken.holder.pk} of account "
            f"{taken.holder.account_id}",
            actor=actor,
        )
    except SlotTaken as taken:
        detail = (
            f"license {taken.holder.pk} of account {taken.holder.account_id}"
            if taken.holder
            else "taken by a concurrent order"
        )
        if upstream is not None:
            detail += f"; upstream license {upstream[1].reference} at {upstream[0]} was bought"
        return hold_order(
            order_id=order.pk,
            reason=Order.HoldReason.IP_REGISTERED_HERE,
            detail=detail,
            actor=actor,
        )
    before = _set_status(
        order, new=OS.COMPLETED, license=lic, completed_at=timezone.now(), hold_reason=None
    )
    order_events.order_completed(order, before=before, actor=actor, reason="delivered")
    return order


def hold_order(*, order_id: int, reason: str, detail: str, actor: User | None) -> Order:
    """Hold an order for staff with its cause; a hold that repeats keeps its first clock.

    `ip_registered_here` means another account holds the product on the IP (rule 2). Every
    delivery path asks here, so this is where an order whose own account holds that license
    (two of its orders for one IP, both paid) is told apart: it can never be delivered and
    there is nothing for staff to decide, so it is refunded in full instead of held.
    """
    order = Order.objects.select_for_update().get(pk=order_id)
    if reason == Order.HoldReason.IP_REGISTERED_HERE and order.status in (
        OS.PROCESSING,
        OS.ON_HOLD,
    ):
        holder = license_live_holder(product_id=order.product_id, ip=order.ip)
        if holder is not None and holder.account_id == order.account_id:
            return _refuse_own_duplicate(order, holder=holder, detail=detail, actor=actor)
    if order.status == OS.ON_HOLD:
        Order.objects.filter(pk=order.pk).update(hold_reason=reason, hold_detail=detail[:300])
        order.hold_reason, order.hold_detail = reason, detail
        return order
    if order.status != OS.PROCESSING:
        return order
    before = _set_status(
        order,
        new=OS.ON_HOLD,
        hold_reason=reason,
        held_at=order.held_at or timezone.now(),
        hold_detail=detail[:300],
    )
    order_events.order_on_hold(order, before=before, actor=actor)
    return order


def _refuse_own_duplicate(
    order: Order, *, holder: License, detail: str, actor: User | None
) -> Order:
    """Reject a locked, paid order for what its account already holds; its refund follows.

    The refund is a job queued with the rejection, not made here: the delivery holds the
    order's lock (and perhaps the license's), and money is locked before both (credit book,
    invoice, refunds, then the order), so taking it here could deadlock; and a refund that
    cannot be made now (a dispute is open) must not fail the delivery.
    """
    note = (
        f"You already hold license {holder.pk} for this product on {order.ip}; this order "
        "is refunded in full to your credit. Renew that license instead."
    )
    before = _set_status(order, new=OS.REJECTED, hold_reason=None, decision_note=note[:300])
    order_events.order_rejected(
        order, before=before, actor=actor, reason=f"own duplicate: {detail}"
    )
    enqueue(refund_never_delivered, order_id=order.pk)
    return order


@durable_task
def refund_never_delivered(*, order_id: int) -> str:
    """Refund, in full to credit, an order the platform rejected (rule 7, `never_delivered`),
    through the same service as staff's rejection; running it again refunds nothing more."""
    refund = with_retries(lambda: _grant_never_delivered(order_id=order_id))
    return f"order {order_id}: " + (
        f"refund {refund.pk} {refund.status}" if refund else "nothing (more) to refund"
    )


def _grant_never_delivered(*, order_id: int) -> Refund | None:
    order = Order.objects.select_related("invoice").get(pk=order_id)
    with transaction.atomic():
        locks = lock_for_money(invoice=order.invoice)
        locked = Order.objects.select_for_update().get(pk=order_id)
        if locked.status != OS.REJECTED:
            return None
        return refund_grant(
            locks=locks,
            actor=None,
            destination=Refund.Destination.CREDIT,
            reason=f"order {order_id} rejected: {locked.decision_note}"[:300],
        )


def _locked_held(order: Order) -> Order:
    locked = Order.objects.select_for_update().select_related("product").get(pk=order.pk)
    if locked.status != OS.ON_HOLD:
        raise InvalidTransition(f"Order {locked.pk} is {locked.status}, not on hold.")
    return locked


def order_approve(
    *,
    order: Order,
    actor: User,
    note: str = "",
    supplier: str | None = None,
    upstream_reference: str | None = None,
) -> Order:
    """Staff deliver a held order; rule 3 still holds (`ip_taken` if the slot is live).

    A manufacturer order is approved with the upstream license staff registered by hand.
    """
    require_staff(actor, "review held orders")
    with transaction.atomic():
        locked = _locked_held(order)
        upstream = None
        if locked.product.kind == Product.Kind.MANUFACTURER:
            if not supplier or not upstream_reference:
                raise ValidationFailed(
                    "Approving a manufacturer order needs the supplier and "
                    "the upstream reference registered by hand."
                )
            upstream = (
                supplier,
                UpstreamLicense(
                    reference=upstream_reference,
                    ip=locked.ip,
                    package=locked.product.upstream_package,
                    status=UpstreamStatus.ACTIVE,
                ),
            )
        try:
            lic = license_issue(order=locked, actor=actor, upstream=upstream)
        except UpstreamReferenceTaken as taken:
            assert taken.holder is not None
            raise ValidationFailed(
                f"Upstream license {upstream_reference} at {supplier} "
                f"already belongs to license {taken.holder.pk}."
            ) from None
        except SlotTaken:
            raise IpTaken("The IP still holds a live license for this product.") from None
        before = _set_status(
            locked,
            new=OS.COMPLETED,
            license=lic,
            completed_at=timezone.now(),
            hold_reason=None,
            decision_note=note[:300],
        )
        order_events.order_completed(locked, before=before, actor=actor, reason=note or "approved")
        return locked


def order_reject(
    *, order: Order, actor: User, note: str = "", destination: str = Refund.Destination.CREDIT
) -> Order:
    """Staff reject a held order: it is refunded in full (rule 7), to the account's credit or,
    by staff's choice, back through the gateway it was paid with.

    The gateway is asked after the rejection has committed (never inside the transaction);
    if it cannot pay now, the order stays rejected and its refund waits, approved, for staff
    to approve again (or, refused, back in the queue).
    """
    require_staff(actor, "review held orders")
    if destination not in Refund.Destination.values:
        raise ValidationFailed("destination is 'credit' or 'original'.")
    rejected, refund = with_retries(
        lambda: _reject_held(order=order, actor=actor, note=note, destination=destination)
    )
    if refund is not None and refund.status == Refund.Status.APPROVED:
        try:
            refund_send_to_gateway(refund=refund, actor=actor)
        except DomainError as exc:
            raise DomainError(
                f"Order {rejected.pk} is rejected; its refund {refund.pk} is not "
                f"paid yet: {exc.detail}",
                code=exc.code,
                status=exc.status,
                extra={"refund": str(refund.pk)},
            ) from exc
    return rejected


def _reject_held(
    *, order: Order, actor: User, note: str, destination: str
) -> tuple[Order, Refund | None]:
    with transaction.atomic():
        # The money paths' lock order: credit book, invoice, its refunds, then the order.
        locks = lock_for_money(invoice=order.invoice)
        locked = _locked_held(order)
        before = _set_status(locked, new=OS.REJECTED, hold_reason=None, decision_note=note[:300])
        order_events.order_rejected(locked, before=before, actor=actor, reason=note or "rejected")
        # Rejected, the order is "never delivered": the policy refunds all of it.
        refund = refund_grant(
            locks=locks,
            actor=actor,
            destination=destination,
            reason=note or f"order {locked.pk} rejected",
        )
        return locked, refund


def orders_due_for_ban(account_ids: list[int]) -> QuerySet[Order]:
    """The accounts' paid orders not delivered yet, which their ban rejects."""
    return Order.objects.filter(account_id__in=account_ids, status__in=(OS.PROCESSING, OS.ON_HOLD))


def orders_reject_for_ban(*, account_ids: list[int], note: str, actor: User) -> list[int]:
    """Reject the accounts' paid orders not delivered yet (processing or held), in the ban's
    transaction, after its invoices and before its licenses (the delivery's order: the order,
    then the license). A ban refunds nothing (rule 6): no refund is granted or queued."""
    locked = list(
        orders_due_for_ban(account_ids)
        .select_for_update(of=("self",))
        .select_related("invoice")
        .order_by("pk")
    )
    decision = f"account banned: {note}"[:300]
    for order in locked:
        before = _set_status(order, new=OS.REJECTED, hold_reason=None, decision_note=decision)
        order_events.order_rejected(order, before=before, actor=actor, reason=decision)
        if order.invoice.account_id not in account_ids:
            # Paid by the customer's agent, who is not banned: the agent gets its money back
            # (rule 6 refunds nothing to the banned account, not to the one who paid).
            enqueue(refund_never_delivered, order_id=order.pk)
    # Unpaid orders the ban voided the invoice of: the account's own, and those its agent
    # placed for its customers (billed to the agent) when the agent is banned.
    unpaid = list(
        Order.objects.select_for_update()
        .filter(status=OS.AWAITING_PAYMENT, invoice__status=Invoice.Status.VOID)
        .filter(Q(account_id__in=account_ids) | Q(invoice__account_id__in=account_ids))
        .order_by("pk")
    )
    for order in unpaid:
        before = _set_status(order, new=OS.CANCELED, decision_note=decision)
        order_events.order_canceled(order, before=before, actor=actor, reason=decision)
    return [order.pk for order in locked]


def order_cancel(*, order: Order, actor: User) -> Order:
    """The buyer withdraws an unpaid order; its invoice is voided."""
    with transaction.atomic():
        # The payment's lock order: the account's credit book, the invoice, then the order.
        lock_credit_book(order.invoice.account, order.invoice.currency)
        Invoice.objects.select_for_update().get(pk=order.invoice_id)
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OS.AWAITING_PAYMENT:
            raise InvalidTransition(
                f"Order {locked.pk} is {locked.status}; only unpaid orders can be canceled."
            )
        invoice_void(invoice=locked.invoice, reason=f"order {locked.pk} canceled", actor=actor)
        before = _set_status(locked, new=OS.CANCELED)
        order_events.order_canceled(locked, before=before, actor=actor)
        return locked
