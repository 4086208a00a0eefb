"""Applying gateway events exactly once, in any order (rule 8).

The event row and its effect commit together: a replayed or concurrent delivery of the same
event finds the row (the unique index makes a concurrent one wait) and changes nothing. A
refund or a dispute that arrives before its payment is kept (`deferred`) and applied with the
payment. The same payment reported by two events (a session completed, then its delayed
payment succeeded) is money once. Events about one payment are applied one at a time.

A gateway without webhooks (Zarinpal) reports through the payer's return: the return is
verified with the gateway, outside any transaction, and the verified payment goes through the
same path as a webhook event, named after the gateway's reference, so a return visited twice
(or verified twice) is one payment.
"""

from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from licensary.billing.checkouts import checkout_get
from licensary.billing.gateways import GatewayEventData, ZarinpalGateway, get_gateway
from licensary.billing.gateways.zarinpal import payment_event
from licensary.billing.models import GatewayCheckout, GatewayEvent, Invoice, Payment, Refund
from licensary.billing.refunds import refund_settle_from_gateway
from licensary.billing.services import (
    DisputeReport,
    dispute_record,
    disputes_apply_for_payment,
    invoice_pay_external,
    invoice_record_gateway_refund,
    unapplied_refund_record,
)
from licensary.core.db import with_retries
from licensary.core.errors import DomainError, InsufficientCredit, InvalidTransition

OUT = GatewayEvent.Outcome


def webhook_receive(*, gateway: str, body: bytes, headers: dict[str, str]) -> GatewayEvent:
    data = get_gateway(gateway).parse_webhook(body=body, headers=headers)
    return with_retries(lambda: _apply_once(gateway, data))


@dataclass(frozen=True)
class ReturnOutcome:
    """What a payer's return came to: `paid` when the money is recorded (the invoice paid,
    or put on credit when the invoice could not take it)."""

    checkout: GatewayCheckout
    paid: bool
    outcome: str  # the payment event's outcome, or "canceled" (the payer did not pay)
    detail: str
    ref_id: str = ""


# The outcomes of a payment event that mean the money is recorded.
MONEY_RECORDED = (OUT.APPLIED, OUT.OVERPAID)


def zarinpal_return_receive(*, authority: str, status: str) -> ReturnOutcome:
    """The payer is back from Zarinpal with `Authority` and `Status`: verify the payment
    there and record it once. A return seen before answers what the first one recorded."""
    checkout = checkout_get(gateway=ZarinpalGateway.name, reference=authority)
    known = GatewayEvent.objects.filter(gateway=checkout.gateway, event_id=authority).first()
    if known is not None:
        return _returned(checkout, known)
    if status != "OK":
        return ReturnOutcome(
            checkout, False, "canceled", "The payment was canceled or failed at Zarinpal."
        )
    invoice = checkout.invoice
    if (checkout.amount, checkout.currency) != (invoice.total, invoice.currency):
        # Not verified, so Zarinpal gives the money back rather than we keep money we cannot
        # book (invoice totals do not change; this guards against one that did).
        raise DomainError(
            f"This payment was for {checkout.amount} {checkout.currency}; invoice "
            f"{invoice.number} is {invoice.total} {invoice.currency}. Nothing is recorded.",
            code="amount_mismatch",
            status=409,
        )
    # Outside any transaction (the route is not atomic): the network call, then the record.
    gateway = get_gateway(checkout.gateway)
    assert isinstance(gateway, ZarinpalGateway)
    verified = gateway.verify(checkout=checkout)
    event = with_retries(lambda: _apply_once(checkout.gateway, payment_event(checkout, verified)))
    return _returned(checkout, event)


def _returned(checkout: GatewayCheckout, event: GatewayEvent) -> ReturnOutcome:
    return ReturnOutcome(
        checkout,
        paid=event.outcome in MONEY_RECORDED,
        outcome=event.outcome,
        detail=event.note or event.outcome,
        ref_id=str(event.payload.get("ref_id") or ""),
    )


def _one_payment_at_a_time(gateway: str, reference: str) -> None:
    """Hold, until commit, a lock named after the payment: without it a dispute (or refund)
    racing its payment's event finds no payment, while the payment finds no deferred event
    yet, and neither is ever applied. SQLite runs one writer at a time anyway."""
    if reference and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"licensary-payment:{gateway}:{reference}"],
            )


def _apply_once(gateway: str, data: GatewayEventData) -> GatewayEvent:
    with transaction.atomic():
        _one_payment_at_a_time(gateway, data.payment_reference)
        try:
            with transaction.atomic():
                event = GatewayEvent.objects.create(
                    gateway=gateway,
                    event_id=data.event_id,
                    type=data.raw.get("type", data.type),
                    payment_reference=data.payment_reference,
                    payload=data.raw,
                    outcome=OUT.IGNORED,
                    received_at=timezone.now(),
                )
        except IntegrityError:
            return GatewayEvent.objects.get(gateway=gateway, event_id=data.event_id)
        if data.type == "payment":
            _apply_payment(event, data)
        elif data.type == "refund":
            _apply_refund(event, data)
        elif data.type == "dispute":
            _apply_dispute(event, data)
        event.save(update_fields=["outcome", "note", "invoice", "dispute"])
        return event


def _invoice(ref: str | None) -> Invoice | None:
    if not ref or not str(ref).isdigit():
        return None
    return Invoice.objects.filter(pk=int(ref)).first()


def _apply_payment(event: GatewayEvent, data: GatewayEventData) -> None:
    invoice = _invoice(data.invoice_ref)
    if invoice is None:
        event.outcome, event.note = OUT.UNKNOWN_INVOICE, f"no invoice {data.invoice_ref!r}"
        return
    event.invoice = invoice
    seen = _payment_recorded(event, data.payment_reference)
    if seen:
        event.outcome, event.note = OUT.IGNORED, seen
        return
    if data.currency != invoice.currency or data.amount != invoice.total:
        event.outcome = OUT.MISMATCH
        event.note = (
            f"received {data.amount} {data.currency}, invoice is {invoice.total} "
            f"{invoice.currency}: left for staff"
        )
        return
    result = invoice_pay_external(
        invoice=invoice,
        method=Payment.Method.GATEWAY,
        gateway=event.gateway,
        reference=data.payment_reference,
        amount=data.amount,
        actor=None,
    )
    event.outcome = OUT.APPLIED if result.outcome == "paid" else OUT.OVERPAID
    event.note = result.note[:300]
    # Saved now: what came first looks for this payment, credited money included, by its row.
    event.save(update_fields=["outcome", "note", "invoice"])
    # A refund that came first can be applied now that its payment exists.
    for deferred in (
        GatewayEvent.objects.select_for_update()
        .filter(
            gateway=event.gateway,
            payment_reference=data.payment_reference,
            outcome=OUT.DEFERRED,
            dispute__isnull=True,
        )
        .order_by("id")
    ):
        payload = deferred.payload["data"]["object"]
        _apply_refund(
            deferred,
            GatewayEventData(
                deferred.event_id,
                "refund",
                data.payment_reference,
                amount=int(payload.get("amount_refunded") or 0),
                currency=str(payload.get("currency") or "").upper(),
            ),
        )
        deferred.save(update_fields=["outcome", "note", "invoice"])
    # And so can a dispute that came first; its events say what became of them.
    for dispute, outcome in disputes_apply_for_payment(
        gateway=event.gateway, reference=data.payment_reference
    ):
        GatewayEvent.objects.filter(dispute=dispute, outcome=OUT.DEFERRED).update(
            outcome=outcome, invoice=dispute.invoice, note=dispute.note[:300]
        )


def _payment_recorded(event: GatewayEvent, reference: str) -> str:
    """Why this payment is known already (a note), or "" when it is new: the same money
    reported by another event (another type, another id) is money once."""
    if not reference:
        return ""
    if Payment.objects.filter(gateway=event.gateway, reference=reference).exists():
        return f"payment {reference} is recorded already"
    earlier = (
        GatewayEvent.objects.filter(
            gateway=event.gateway, payment_reference=reference, outcome=OUT.OVERPAID
        )
        .exclude(pk=event.pk)
        .first()
    )
    return (
        f"payment {reference} went to credit already (event {earlier.event_id})" if earlier else ""
    )


def _apply_dispute(event: GatewayEvent, data: GatewayEventData) -> None:
    facts = data.dispute
    assert facts is not None
    if data.amount <= 0 or not data.payment_reference:
        event.outcome, event.note = OUT.MISMATCH, "a dispute without an amount or a payment"
        return
    dispute, outcome = dispute_record(
        report=DisputeReport(
            gateway=event.gateway,
            dispute_id=facts.dispute_id,
            payment_reference=data.payment_reference,
            state=facts.state,
            gateway_status=facts.gateway_status,
            amount=data.amount,
            currency=data.currency,
            reason=facts.reason,
            evidence_due_at=facts.evidence_due_at,
        )
    )
    event.dispute, event.invoice_id = dispute, dispute.invoice_id
    event.outcome = OUT(outcome)
    event.note = (dispute.note or f"dispute {facts.dispute_id}: {dispute.state}")[:300]


def _apply_refund(event: GatewayEvent, data: GatewayEventData) -> None:
    payment = Payment.objects.filter(
        gateway=event.gateway, reference=data.payment_reference
    ).first()
    if payment is None:
        credited = (
            GatewayEvent.objects.filter(
                gateway=event.gateway,
                payment_reference=data.payment_reference,
                outcome=OUT.OVERPAID,
            )
            .select_related("invoice")
            .first()
        )
        if credited is None:
            event.outcome, event.note = OUT.DEFERRED, "refund before its payment; kept for it"
            return
        # The payment went to credit (its invoice could not take it): take it back from there.
        assert credited.invoice is not None  # an overpaid event names the invoice it overpaid
        event.invoice_id = credited.invoice_id
        try:
            with transaction.atomic():
                taken = unapplied_refund_record(
                    account=credited.invoice.account,
                    currency=data.currency,
                    gateway=event.gateway,
                    reference=data.payment_reference,
                    refunded_total=data.amount,
                )
        except InsufficientCredit:
            event.outcome = OUT.MISMATCH
            event.note = "refunded in the gateway after the credit was spent: for staff"
            return
        event.outcome, event.note = OUT.APPLIED, f"took {taken} back from credit"
        return
    event.invoice_id = payment.invoice_id
    # Our refunds it names are settled first (an answer lost, or a repeat after the gateway
    # forgot the key): each is booked once, as the refund staff approved.
    for refund_id, reference in data.refunds_tagged:
        try:
            with transaction.atomic():
                refund_settle_from_gateway(
                    refund_id=refund_id,
                    invoice=payment.invoice,
                    gateway=event.gateway,
                    reference=reference,
                )
        except (InsufficientCredit, InvalidTransition) as exc:
            event.outcome, event.note = (
                OUT.MISMATCH,
                f"refund {refund_id}: {exc.detail} For staff."[:300],
            )
            return
    # Stripe reports the refunded total; what we know of (paid, or approved and on its way
    # through the API) is not counted twice.
    known = (
        Refund.objects.filter(
            invoice_id=payment.invoice_id,
            destination=Refund.Destination.ORIGINAL,
            status__in=[Refund.Status.PAID, Refund.Status.APPROVED],
        ).aggregate(total=Sum("eligible"))["total"]
        or 0
    )
    delta = data.amount - known
    if delta <= 0:
        event.outcome, event.note = OUT.IGNORED, "refund already recorded"
        return
    try:
        with transaction.atomic():
            invoice_record_gateway_refund(
                invoice=payment.invoice,
                amount=delta,
                gateway=event.gateway,
                reference=data.payment_reference,
            )
    except (InsufficientCredit, InvalidTransition) as exc:
        event.outcome, event.note = OUT.MISMATCH, f"{exc.detail} For staff."[:300]
        return
    event.outcome, event.note = OUT.APPLIED, f"refunded {delta} in {event.gateway}"
