"""Refund requests: the policy's answer is recorded with the request; staff decide and pay."""

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.audit.services import Change, audit_record
from licensary.billing.gateways import get_gateway
from licensary.billing.models import Invoice, InvoiceLine, Payment, Refund
from licensary.billing.refund_policy import RefundDecision, RefundFacts, refund_policy
from licensary.billing.services import (
    invoice_record_gateway_refund,
    invoice_refund_to_credit,
    invoice_refunded_amount,
)
from licensary.core.errors import (
    DomainError,
    InvalidTransition,
    ValidationFailed,
    require_staff,
)
from licensary.core.money import require_amount

if TYPE_CHECKING:
    from licensary.licenses.models import License

PAID_INVOICE = (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED, Invoice.Status.REFUNDED)


def refund_facts(invoice: Invoice) -> RefundFacts:
    """What rule 7 needs to know about `invoice`, read from the database."""
    from licensary.licenses.models import License, UnresolvableProblem
    from licensary.orders.models import Order

    lines = tuple(invoice.lines.values_list("kind", "amount"))
    payment = Payment.objects.filter(invoice=invoice).first()
    paid = payment.amount if payment else (invoice.total if invoice.paid_at else 0)
    facts = {"purpose": invoice.purpose, "paid": min(paid, invoice.total),
             "already_refunded": invoice_refunded_amount(invoice), "lines": lines}
    lic: License | None = None
    if invoice.purpose == Invoice.Purpose.ORDER:
        order = Order.objects.select_related("license", "product").get(invoice=invoice)
        lic = order.license
        facts |= {"order_rejected": order.status == Order.Status.REJECTED,
                  "delivered": lic is not None, "product_kind": order.product.kind}
        product = order.product
    elif invoice.purpose == Invoice.Purpose.RENEWAL:
        line = invoice.lines.select_related("license__product").filter(kind="renewal").first()
        lic = line.license if line else None
        product = lic.product if lic else None
        facts |= {"delivered": lic is not None,
                  "product_kind": product.kind if product else None}
    else:
        return RefundFacts(**facts)
    if product is not None:
        facts |= {"manufacturer_rule": product.refund_rule,
                  "manufacturer_days": product.refund_days}
    if invoice.paid_at:
        facts["days_since_payment"] = (timezone.now() - invoice.paid_at).total_seconds() / 86400
    if lic is not None:
        period_days = settings.LICENSARY["PERIOD_DAYS"]
        facts["periods_elapsed"] = int((timezone.now() - lic.created_at).days // period_days)
        facts["unresolvable"] = UnresolvableProblem.objects.filter(license=lic).exists()
        facts |= _period_facts(invoice, lic)
    return RefundFacts(**facts)


def _period_facts(invoice: Invoice, lic: "License") -> dict[str, object]:
    """What `invoice` paid for its period of `lic` (its line, not today's price), and whether
    that period is the current one: of the license's paid periods, the one that started last
    and not in the future. Each period is paid by one invoice, so it is refunded once."""
    from licensary.orders.models import Order

    now = timezone.now()
    # A new order's period starts when its license is issued; a renewal's line records its own.
    periods: list[tuple[datetime, int]] = [
        (lic.created_at, invoice_id) for invoice_id in Order.objects.filter(
            license=lic, invoice__status__in=PAID_INVOICE).values_list("invoice_id", flat=True)]
    periods += InvoiceLine.objects.filter(
        license=lic, kind=InvoiceLine.Kind.RENEWAL, invoice__status__in=PAID_INVOICE,
        period_start__isnull=False).values_list("period_start", "invoice_id")
    started = [period for period in periods if period[0] <= now]
    current = max(started)[1] if started else None
    if invoice.purpose == Invoice.Purpose.ORDER:
        paid_lines = invoice.lines.filter(kind=InvoiceLine.Kind.LICENSE)
    else:
        paid_lines = invoice.lines.filter(kind=InvoiceLine.Kind.RENEWAL, license=lic)
    return {"period_price": sum(paid_lines.values_list("amount", flat=True)),
            "current_period": current == invoice.pk}


def refund_quote(invoice: Invoice) -> RefundDecision:
    return refund_policy(refund_facts(invoice))


def refund_request(*, invoice: Invoice, reason: str, actor: User) -> Refund:
    if not reason.strip():
        raise ValidationFailed("Say why the refund is asked for.")
    if invoice.status not in (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED):
        raise InvalidTransition(f"Invoice {invoice.number} is {invoice.status}; only paid "
                                "invoices are refunded.")
    decision = refund_quote(invoice)
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                invoice=invoice, account=invoice.account, eligible=decision.eligible,
                currency=invoice.currency, rule=decision.rule,
                explanation=decision.explanation[:300], reason=reason[:300],
                requested_by=actor, created_at=timezone.now())
            audit_record(Change(action="refund.requested", object_type="refund",
                                object_id=refund.pk, actor=actor, account_id=invoice.account_id,
                                after={"invoice": invoice.number, "eligible": decision.eligible,
                                       "rule": decision.rule}, reason=reason))
    except IntegrityError as exc:
        raise InvalidTransition("A refund of this invoice is already waiting for staff.") \
            from exc
    return refund


def refund_approve(*, refund: Refund, actor: User, destination: str = "credit",
                   amount: int | None = None, note: str = "") -> Refund:
    """Pay the refund to credit, or back through the gateway the invoice was paid with."""
    require_staff(actor, "decide refunds")
    if destination not in Refund.Destination.values:
        raise ValidationFailed("destination is 'credit' or 'original'.")
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if locked.status == Refund.Status.APPROVED and \
                locked.destination == Refund.Destination.ORIGINAL:
            # The gateway could not be reached last time: the same idempotency key again.
            return _refund_through_gateway(locked, actor=actor)
        if locked.status != Refund.Status.REQUESTED:
            raise InvalidTransition(f"Refund {locked.pk} is {locked.status}.")
        pay = locked.eligible if amount is None else require_amount(amount)
        if locked.rule != "manufacturer_manual" and amount not in (None, locked.eligible):
            raise ValidationFailed("Only a manufacturer's manual rule lets staff set the amount.")
        if not 0 < pay <= locked.eligible:
            raise InvalidTransition(f"Nothing to pay: {pay} is not within the eligible "
                                    f"{locked.eligible} ({locked.rule}).")
        payment = Payment.objects.filter(invoice_id=locked.invoice_id).first()
        if destination == "original" and (payment is None or not payment.gateway or
                                          payment.gateway == "bank"):
            raise ValidationFailed("This invoice was not paid through a gateway that can "
                                   "refund; refund to credit.")
        Refund.objects.filter(pk=locked.pk).update(
            status=Refund.Status.APPROVED, eligible=pay, destination=destination,
            decided_by=actor, decided_at=timezone.now(), decision_note=note[:300])
        if destination == "credit":
            invoice_refund_to_credit(invoice=locked.invoice, amount=pay,
                                     reason=f"refund {locked.pk}", actor=actor)
            Refund.objects.filter(pk=locked.pk).update(status=Refund.Status.PAID)
        audit_record(Change(action="refund.approved", object_type="refund", object_id=locked.pk,
                            actor=actor, account_id=locked.account_id,
                            after={"amount": pay, "destination": destination}, reason=note))
    if destination == "original":
        return _refund_through_gateway(locked, actor=actor)
    locked.refresh_from_db()
    return locked


def _refund_through_gateway(refund: Refund, *, actor: User) -> Refund:
    """Outside any transaction: Stripe's idempotency key makes a repeated call safe, and the
    approved row tells the webhook this refund is ours already."""
    refund.refresh_from_db()
    payment = Payment.objects.get(invoice_id=refund.invoice_id)
    try:
        reference = get_gateway(payment.gateway).refund(
            payment_reference=payment.reference, amount=refund.eligible,
            idempotency_key=f"licensary-refund-{refund.pk}")
    except DomainError as exc:
        if exc.code == "gateway_unavailable":
            # Refused, so nothing moved: back to the queue (try again, or pay to credit).
            Refund.objects.filter(pk=refund.pk, status=Refund.Status.APPROVED).update(
                status=Refund.Status.REQUESTED)
        # Unreachable: it may have happened. It stays approved; approving it again repeats
        # the same call, and the webhook recognises it either way.
        raise
    with transaction.atomic():
        invoice_record_gateway_refund(invoice=refund.invoice, amount=refund.eligible,
                                      gateway=payment.gateway, reference=reference,
                                      actor=actor, refund=refund)
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.PAID,
                                                   gateway_reference=reference)
    refund.refresh_from_db()
    return refund


def refund_reject(*, refund: Refund, actor: User, note: str) -> Refund:
    require_staff(actor, "decide refunds")
    if not note.strip():
        raise ValidationFailed("Say why the refund is rejected.")
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if locked.status != Refund.Status.REQUESTED:
            raise InvalidTransition(f"Refund {locked.pk} is {locked.status}.")
        Refund.objects.filter(pk=locked.pk).update(
            status=Refund.Status.REJECTED, decided_by=actor, decided_at=timezone.now(),
            decision_note=note[:300])
        audit_record(Change(action="refund.rejected", object_type="refund", object_id=locked.pk,
                            actor=actor, account_id=locked.account_id, reason=note))
    locked.refresh_from_db()
    return locked
