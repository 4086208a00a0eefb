"""Refund requests: the policy's answer is recorded with the request; staff decide and pay.

A refund to the original payment is paid in three steps, so no network call happens inside a
database transaction: approve (the intent, committed), ask the gateway (outside, claimed so
that only one process asks at a time), then book the answer under a fresh lock that re-checks
the refund's status. Every step locks in the order `billing.services.lock_for_money` documents.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.billing import events as billing_events
from licensary.billing.gateways import get_gateway
from licensary.billing.lines import invoice_bought_facts
from licensary.billing.models import Invoice, Payment, Refund
from licensary.billing.refund_policy import RefundDecision, RefundFacts, refund_policy
from licensary.billing.services import (
    MoneyLocks,
    RefundInFlight,
    invoice_record_gateway_refund,
    invoice_refund_spoken_for,
    invoice_refund_to_credit,
    invoice_require_no_open_dispute,
    invoice_require_refund_room,
    lock_for_money,
)
from licensary.core.db import with_retries
from licensary.core.errors import (
    DomainError,
    InvalidTransition,
    ValidationFailed,
)
from licensary.core.money import require_amount

# Longer than the gateway client's own timeout and retries: a claim older than this belongs to
# a process that died mid-call, and the call may be asked again (same idempotency key).
GATEWAY_CALL_LEASE = timedelta(minutes=5)
# How long the gateway remembers an idempotency key (Stripe prunes them after 24 hours), less
# a margin for clocks.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=23)


def refund_facts(invoice: Invoice) -> RefundFacts:
    """What rule 7 needs to know about `invoice`: the money here, what it bought from the
    handler of its lines (`billing.lines`)."""
    lines = tuple(invoice.lines.values_list("kind", "amount"))
    payment = Payment.objects.filter(invoice=invoice).first()
    paid = payment.amount if payment else (invoice.total if invoice.paid_at else 0)
    # Refunds approved and on their way through a gateway count as refunded already.
    facts: dict[str, Any] = {
        "purpose": invoice.purpose,
        "paid": min(paid, invoice.total),
        "already_refunded": invoice_refund_spoken_for(invoice),
        "lines": lines,
    }
    bought = invoice_bought_facts(invoice)
    if bought and invoice.paid_at:
        facts["days_since_payment"] = (timezone.now() - invoice.paid_at).total_seconds() / 86400
    return RefundFacts(**(facts | bought))


def refund_quote(invoice: Invoice) -> RefundDecision:
    return refund_policy(refund_facts(invoice))


def refund_request(*, invoice: Invoice, reason: str, actor: User) -> Refund:
    """Ask for a refund of a paid invoice; the policy's answer is recorded for staff."""
    if not reason.strip():
        raise ValidationFailed("Say why the refund is asked for.")
    return with_retries(lambda: _request(invoice=invoice, reason=reason, actor=actor))


def _request(*, invoice: Invoice, reason: str, actor: User) -> Refund:
    with transaction.atomic():
        locks = lock_for_money(invoice=invoice)
        locked = locks.invoice
        if locked.status not in (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED):
            raise InvalidTransition(
                f"Invoice {locked.number} is {locked.status}; only paid invoices are refunded."
            )
        in_flight = [r for r in locks.open_refunds if r.status == Refund.Status.APPROVED]
        if in_flight:
            raise RefundInFlight(
                f"Refund {in_flight[0].pk} of invoice {locked.number} is on "
                "its way back through the gateway; ask again once it is paid."
            )
        if locks.open_refunds:
            raise InvalidTransition("A refund of this invoice is already waiting for staff.")
        invoice_require_no_open_dispute(locked)
        decision = refund_quote(locked)
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    invoice=locked,
                    account=locked.account,
                    eligible=decision.eligible,
                    currency=locked.currency,
                    rule=decision.rule,
                    explanation=decision.explanation[:300],
                    reason=reason[:300],
                    requested_by=actor,
                    created_at=timezone.now(),
                )
        except IntegrityError as exc:
            raise InvalidTransition(
                "A refund of this invoice is already waiting for staff."
            ) from exc
        billing_events.refund_requested(refund, actor=actor)
    return refund


def refund_approve(
    *,
    refund: Refund,
    actor: User,
    destination: str = "credit",
    amount: int | None = None,
    note: str = "",
) -> Refund:
    """Pay the refund to credit, or back through the gateway the invoice was paid with.

    Approving a refund already approved to the original payment asks the gateway again with
    the same idempotency key (its answer was lost): that is how staff repeat it safely.
    """
    require_staff(actor, "decide refunds")
    if destination not in Refund.Destination.values:
        raise ValidationFailed("destination is 'credit' or 'original'.")
    decided = with_retries(
        lambda: _approve(
            refund=refund, actor=actor, destination=destination, amount=amount, note=note
        )
    )
    if decided.status == Refund.Status.APPROVED:  # on its way: ask the gateway, after commit
        return refund_send_to_gateway(refund=decided, actor=actor)
    return decided


def _approve(
    *, refund: Refund, actor: User, destination: str, amount: int | None, note: str
) -> Refund:
    with transaction.atomic():
        locks = lock_for_money(invoice=refund.invoice, refund=refund)
        locked = locks.refund
        assert locked is not None
        if locked.status == Refund.Status.APPROVED:
            if destination != Refund.Destination.ORIGINAL:
                raise RefundInFlight(
                    f"Refund {locked.pk} was sent to the original payment and "
                    "may be paid there already; approve it to the original "
                    "payment again to repeat that safely."
                )
            return locked
        return _decide(locks=locks, actor=actor, destination=destination, amount=amount, note=note)


def _gateway_payment(invoice: Invoice) -> Payment:
    """The invoice's payment, when a gateway took it and can give it back."""
    payment = Payment.objects.filter(invoice_id=invoice.pk).first()
    if payment is not None and payment.gateway and payment.gateway != "bank":
        try:
            get_gateway(payment.gateway)
            return payment
        except DomainError:
            pass
    raise ValidationFailed(
        "This invoice was not paid through a gateway that can refund; refund to credit."
    )


def _decide(
    *, locks: MoneyLocks, actor: User | None, destination: str, amount: int | None, note: str
) -> Refund:
    """Approve the locked, requested refund. To credit it is paid at once; to the original
    payment it is approved (on its way, counted as refunded) and the caller asks the gateway
    once this transaction has committed."""
    locked = locks.refund
    assert locked is not None
    if locked.status != Refund.Status.REQUESTED:
        raise InvalidTransition(f"Refund {locked.pk} is {locked.status}.")
    # The policy is asked again under the lock: what was refundable when the refund was asked
    # for may have been refunded since (in the gateway, or by a refund that came back).
    quote = refund_quote(locks.invoice)
    pay = quote.eligible if amount is None else require_amount(amount)
    if quote.rule != "manufacturer_manual" and amount not in (None, quote.eligible):
        raise ValidationFailed("Only a manufacturer's manual rule lets staff set the amount.")
    if not 0 < pay <= quote.eligible:
        raise InvalidTransition(
            f"Nothing to pay: {pay} is not within the {quote.eligible} "
            f"refundable now ({quote.rule}: {quote.explanation})"
        )
    if destination == Refund.Destination.ORIGINAL:
        _gateway_payment(locks.invoice)
    invoice_require_no_open_dispute(locks.invoice)  # a new promise of the invoice's money
    invoice_require_refund_room(invoice=locks.invoice, amount=pay, refund=locked)
    if destination == Refund.Destination.CREDIT:
        invoice_refund_to_credit(
            invoice=locks.invoice, amount=pay, reason=f"refund {locked.pk}", actor=actor
        )
    Refund.objects.filter(pk=locked.pk).update(
        status=Refund.Status.PAID
        if destination == Refund.Destination.CREDIT
        else Refund.Status.APPROVED,
        eligible=pay,
        rule=quote.rule,
        explanation=quote.explanation[:300],
        destination=destination,
        decided_by=actor,
        decided_at=timezone.now(),
        decision_note=note[:300],
    )
    billing_events.refund_approved(
        locked, quote=quote, amount=pay, destination=destination, actor=actor, note=note
    )
    locked.refresh_from_db()
    return locked


def refund_grant(
    *, locks: MoneyLocks, actor: User | None, destination: str, reason: str
) -> Refund | None:
    """Staff give what rule 7 allows now, unasked (a held order they rejected), in the
    caller's transaction under `lock_for_money(invoice=...)`; an open request is superseded.
    `actor=None` is the platform itself (an order it refused as an own duplicate): the one
    way refunds are created, whoever decides them.

    Returns the refund: paid when to credit; approved when to the original payment, for the
    caller to pass to `refund_send_to_gateway` after commit; None when nothing is refundable.
    """
    if actor is not None:
        require_staff(actor, "grant refunds")
    if destination not in Refund.Destination.values:
        raise ValidationFailed("destination is 'credit' or 'original'.")
    if any(r.status == Refund.Status.APPROVED for r in locks.open_refunds):
        raise RefundInFlight(
            f"A refund of invoice {locks.invoice.number} is on its way back "
            "through the gateway already."
        )
    decision = refund_quote(locks.invoice)
    if decision.eligible == 0:
        return None
    now = timezone.now()
    for superseded in locks.open_refunds:
        Refund.objects.filter(pk=superseded.pk, status=Refund.Status.REQUESTED).update(
            status=Refund.Status.REJECTED,
            decided_by=actor,
            decided_at=now,
            decision_note=f"superseded: {reason}"[:300],
        )
        billing_events.refund_rejected(superseded, actor=actor, reason=f"superseded: {reason}")
    refund = Refund.objects.create(
        invoice=locks.invoice,
        account=locks.invoice.account,
        eligible=decision.eligible,
        currency=locks.invoice.currency,
        rule=decision.rule,
        explanation=decision.explanation[:300],
        reason=reason[:300],
        requested_by=actor or locks.invoice.account,
        created_at=now,
    )
    billing_events.refund_requested(refund, actor=actor)
    return _decide(
        locks=MoneyLocks(
            book=locks.book, invoice=locks.invoice, open_refunds=[refund], refund=refund
        ),
        actor=actor,
        destination=destination,
        amount=None,
        note=reason,
    )


def refund_send_to_gateway(*, refund: Refund, actor: User | None) -> Refund:
    """Ask the gateway to pay an approved refund back, then book its answer.

    Never inside a transaction: the approval committed the intent. Only one process asks at a
    time (a claim on the row, taken by a conditional UPDATE); a second approver meanwhile gets
    `refund_in_flight`. The answer is booked under a fresh lock that re-checks the status, so
    the refund is booked once however often it is asked for.
    """
    claim = timezone.now()
    claimed = Refund.objects.filter(
        Q(gateway_call_at__isnull=True) | Q(gateway_call_at__lt=claim - GATEWAY_CALL_LEASE),
        pk=refund.pk,
        status=Refund.Status.APPROVED,
        destination=Refund.Destination.ORIGINAL,
    ).update(gateway_call_at=claim)
    if claimed != 1:
        current = Refund.objects.get(pk=refund.pk)
        if current.status == Refund.Status.PAID:
            return current
        if current.status == Refund.Status.APPROVED:
            raise RefundInFlight(
                f"Refund {current.pk} is being sent to the gateway right now; "
                "look again in a few minutes."
            )
        raise InvalidTransition(f"Refund {current.pk} is {current.status}.")
    current = Refund.objects.get(pk=refund.pk)
    payment = Payment.objects.get(invoice_id=current.invoice_id)
    gateway = get_gateway(payment.gateway)
    try:
        reference = None
        # The gateway forgets idempotency keys (Stripe: after 24 hours); past that, a repeated
        # call would be a second refund, so first look for the one it may have made.
        if current.decided_at and current.decided_at < claim - IDEMPOTENCY_KEY_LIFETIME:
            reference = gateway.find_refund(payment_reference=payment.reference, tag=current.pk)
        if reference is None:
            reference = gateway.refund(
                payment_reference=payment.reference,
                amount=current.eligible,
                idempotency_key=f"licensary-refund-{current.pk}",
                tag=current.pk,
            )
    except Exception as exc:
        refused = isinstance(exc, DomainError) and exc.code == "gateway_unavailable"
        detail = str(exc)
        with_retries(
            lambda: _gateway_failed(
                refund=current, claim=claim, refused=refused, detail=detail, actor=actor
            )
        )
        raise
    try:
        return with_retries(
            lambda: _book_gateway_refund(
                refund=current, gateway=payment.gateway, reference=reference, actor=actor
            )
        )
    except DomainError as exc:
        # Paid out but refused by the books: flagged for staff to settle; asking again is
        # harmless (the same idempotency key).
        detail = exc.detail
        with_retries(
            lambda: _booking_refused(
                refund=current, claim=claim, reference=reference, detail=detail, actor=actor
            )
        )
        raise


def _booking_refused(
    *, refund: Refund, claim: datetime, reference: str, detail: str, actor: User | None
) -> None:
    with transaction.atomic():
        locks = lock_for_money(invoice=refund.invoice, refund=refund)
        locked = locks.refund
        assert locked is not None
        Refund.objects.filter(pk=locked.pk, gateway_call_at=claim).update(gateway_call_at=None)
        if locked.status != Refund.Status.APPROVED:
            return
        note = f"Paid by the gateway ({reference}) but not booked: {detail}"
        Refund.objects.filter(pk=locked.pk).update(needs_staff=True, decision_note=note[:300])
        billing_events.refund_booking_refused(
            locked, reference=reference, actor=actor, detail=detail
        )


def _gateway_failed(
    *, refund: Refund, claim: datetime, refused: bool, detail: str, actor: User | None
) -> None:
    """Refused (a definite 4xx): nothing moved, so the refund goes back to staff's queue (pay
    it to credit, or try again). Unreachable, a 5xx, a key still in use: it may have happened,
    so it stays approved (counted as refunded) and approving it again repeats the same call,
    which the gateway recognises."""
    with transaction.atomic():
        locks = lock_for_money(invoice=refund.invoice, refund=refund)
        locked = locks.refund
        assert locked is not None
        if locked.status != Refund.Status.APPROVED or locked.gateway_call_at != claim:
            return  # our claim lapsed and another call owns the refund now
        if not refused:
            Refund.objects.filter(pk=locked.pk).update(gateway_call_at=None)
            return
        Refund.objects.filter(pk=locked.pk).update(
            status=Refund.Status.REQUESTED, gateway_call_at=None
        )
        billing_events.refund_gateway_refused(locked, actor=actor, detail=detail)


def refund_settle_from_gateway(
    *, refund_id: int, invoice: Invoice, gateway: str, reference: str
) -> Refund | None:
    """The gateway says it paid our approved refund `refund_id` of `invoice` (its webhook
    names it): book it, once. None when it is no approved refund of that invoice."""
    refund = Refund.objects.filter(
        pk=refund_id, invoice_id=invoice.pk, destination=Refund.Destination.ORIGINAL
    ).first()
    if refund is None or refund.status not in (Refund.Status.APPROVED, Refund.Status.PAID):
        return None
    return _book_gateway_refund(refund=refund, gateway=gateway, reference=reference, actor=None)


def _book_gateway_refund(
    *, refund: Refund, gateway: str, reference: str, actor: User | None
) -> Refund:
    with transaction.atomic():
        locks = lock_for_money(invoice=refund.invoice, refund=refund)
        locked = locks.refund
        assert locked is not None
        if locked.status == Refund.Status.PAID:
            return locked  # booked by an earlier ask with the same idempotency key
        if locked.status != Refund.Status.APPROVED:
            raise InvalidTransition(f"Refund {locked.pk} is {locked.status}.")
        invoice_record_gateway_refund(
            invoice=locks.invoice,
            amount=locked.eligible,
            gateway=gateway,
            reference=reference,
            actor=actor,
            refund=locked,
        )
        Refund.objects.filter(pk=locked.pk).update(
            status=Refund.Status.PAID,
            gateway_reference=reference,
            gateway_call_at=None,
            needs_staff=False,
        )
        billing_events.refund_paid(locked, gateway=gateway, reference=reference, actor=actor)
    locked.refresh_from_db()
    return locked


def refund_reject(*, refund: Refund, actor: User, note: str) -> Refund:
    require_staff(actor, "decide refunds")
    if not note.strip():
        raise ValidationFailed("Say why the refund is rejected.")
    return with_retries(lambda: _reject(refund=refund, actor=actor, note=note))


def _reject(*, refund: Refund, actor: User, note: str) -> Refund:
    with transaction.atomic():
        locks = lock_for_money(invoice=refund.invoice, refund=refund)
        locked = locks.refund
        assert locked is not None
        if locked.status != Refund.Status.REQUESTED:
            raise InvalidTransition(f"Refund {locked.pk} is {locked.status}.")
        Refund.objects.filter(pk=locked.pk).update(
            status=Refund.Status.REJECTED,
            decided_by=actor,
            decided_at=timezone.now(),
            decision_note=note[:300],
        )
        billing_events.refund_rejected(locked, actor=actor, reason=note)
    locked.refresh_from_db()
    return locked
