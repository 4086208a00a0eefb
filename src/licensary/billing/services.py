"""Every change to invoices and payments."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_act_for, require_staff
from licensary.accounts.services import account_require_in_good_standing
from licensary.billing import events as billing_events
from licensary.billing.lines import invoice_on_paid
from licensary.billing.models import (
    Dispute,
    GatewayEvent,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    Payment,
    Refund,
)
from licensary.core.errors import (
    InsufficientCredit,
    InvalidTransition,
    LicenseDeleted,
    ValidationFailed,
)
from licensary.core.money import require_amount
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting
from licensary.ledger.services import Leg, lock_credit_book, post_entry, system_book


class InvoiceDisputed(InvalidTransition):
    """A chargeback on the invoice's payment is open: the gateway holds that money, so no
    refund may promise it again until the dispute is decided."""

    code = "invoice_disputed"
    title = "The payment is disputed"


class RefundInFlight(InvalidTransition):
    """Money of the invoice is on its way back through a gateway: nothing may promise it again."""

    code = "refund_in_flight"
    title = "A refund is on its way"


# The lock order of every money path (RELIABILITY "Concurrency"), in one place:
#   1. the account's credit book   (ledger `lock_credit_book`)
#   2. the invoice
#   3. the invoice's open refunds (requested or approved, by id) and the refund decided
#   4. what the invoice pays for: its order, then the license   (locked by the caller, after)
# A path may skip a level but never lock an earlier level after a later one. The audit head is
# locked last of all by the events' audit entries (`billing.events`), so every row lock is taken
# before the first audit entry.
@dataclass(frozen=True)
class MoneyLocks:
    """The rows `lock_for_money` holds for the rest of the caller's transaction."""

    book: LedgerAccount
    invoice: Invoice
    open_refunds: list[Refund]
    refund: Refund | None


OPEN_REFUND = (Refund.Status.REQUESTED, Refund.Status.APPROVED)


def lock_for_money(*, invoice: Invoice, refund: Refund | None = None) -> MoneyLocks:
    """Lock levels 1 to 3 of the lock order for `invoice` (and `refund`, one of its refunds)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("row locks are taken inside the use case's transaction")
    book = lock_credit_book(invoice.account, invoice.currency)
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    wanted = (
        Q(status__in=OPEN_REFUND) | Q(pk=refund.pk)
        if refund is not None
        else Q(status__in=OPEN_REFUND)
    )
    refunds = list(
        Refund.objects.select_for_update().filter(wanted, invoice_id=locked.pk).order_by("pk")
    )
    decided = next((r for r in refunds if refund is not None and r.pk == refund.pk), None)
    if refund is not None and decided is None:
        raise InvalidTransition(f"Refund {refund.pk} is not a refund of invoice {locked.number}.")
    return MoneyLocks(
        book=book,
        invoice=locked,
        open_refunds=[r for r in refunds if r.status in OPEN_REFUND],
        refund=decided,
    )


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    amount: int
    license_id: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    customer_id: int | None = None  # on an agent's invoice: the customer it sold to


def next_invoice_numbers(count: int = 1) -> list[int]:
    """Take `count` consecutive numbers; the row lock holds them until the caller commits,
    so a rolled-back issue leaves no gap."""
    InvoiceSequence.objects.get_or_create(name="invoice")
    seq = InvoiceSequence.objects.select_for_update().get(name="invoice")
    first = seq.next_value
    InvoiceSequence.objects.filter(name="invoice").update(next_value=first + count)
    return list(range(first, first + count))


@dataclass(frozen=True)
class InvoiceSpec:
    """One invoice to issue: whose, for what, and its lines (`invoices_issue`)."""

    account_id: int
    purpose: str
    currency: str
    due_at: datetime
    lines: tuple[LineSpec, ...]
    # What else the `invoice.issued` entry says (a renewal names its license).
    about: tuple[tuple[str, object], ...] = ()


def invoices_issue(
    specs: list[InvoiceSpec],
    *,
    actor: User | None,
    actor_label: str = "system",
    issued_at: datetime | None = None,
) -> list[Invoice]:
    """Create unpaid invoices in the caller's transaction, numbered in one go, each with its
    `invoice.issued` event: the only way an invoice comes to be (an order's, a deposit's, a
    renewal's, or the sweep's thousands of renewals in one batch)."""
    if not specs:
        return []
    now = issued_at or timezone.now()
    numbers = next_invoice_numbers(len(specs))
    invoices = Invoice.objects.bulk_create(
        [
            Invoice(
                number=number,
                account_id=spec.account_id,
                purpose=spec.purpose,
                currency=spec.currency,
                total=sum(line.amount for line in spec.lines),
                issued_at=now,
                due_at=spec.due_at,
            )
            for number, spec in zip(numbers, specs, strict=True)
        ]
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                kind=line.kind,
                description=line.description,
                amount=line.amount,
                license_id=line.license_id,
                period_start=line.period_start,
                period_end=line.period_end,
                customer_id=line.customer_id,
            )
            for invoice, spec in zip(invoices, specs, strict=True)
            for line in spec.lines
        ]
    )
    billing_events.invoices_issued(
        [(invoice, dict(spec.about)) for invoice, spec in zip(invoices, specs, strict=True)],
        actor=actor,
        actor_label="" if actor else actor_label,
    )
    return invoices


def invoice_issue(
    *,
    account: User,
    purpose: str,
    currency: str,
    lines: list[LineSpec],
    due_at: datetime,
    actor: User | None,
) -> Invoice:
    """Create one unpaid invoice in the caller's transaction (see `invoices_issue`)."""
    spec = InvoiceSpec(
        account_id=account.pk,
        purpose=purpose,
        currency=currency,
        due_at=due_at,
        lines=tuple(lines),
    )
    return invoices_issue([spec], actor=actor)[0]


def invoice_line_set_period(*, line_id: int, start: datetime, end: datetime) -> None:
    """Record the period a paid renewal line bought (in the payment's transaction)."""
    InvoiceLine.objects.filter(pk=line_id, kind=InvoiceLine.Kind.RENEWAL).update(
        period_start=start, period_end=end
    )


def _lock_unpaid(invoice: Invoice) -> Invoice:
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.UNPAID:
        # A renewal voided because its license was deleted: say why (rule 5, `license_deleted`).
        if (
            locked.status == Invoice.Status.VOID
            and locked.lines.filter(kind="renewal", license__status="deleted").exists()
        ):
            raise LicenseDeleted("This license is deleted; order it again (the setup fee applies).")
        raise InvalidTransition(f"Invoice {locked.number} is {locked.status}, not unpaid.")
    return locked


def invoice_pay_with_credit(*, invoice: Invoice, actor: User) -> Invoice:
    """Pay the whole invoice from the account's credit, or fail and change nothing."""
    account = invoice.account
    if not actor.is_staff_account:
        account_require_in_good_standing(actor)
    account_require_in_good_standing(account)
    if invoice.purpose == Invoice.Purpose.DEPOSIT:
        raise ValidationFailed("A deposit is paid with money, not with credit.")
    with transaction.atomic():
        book = lock_credit_book(account, invoice.currency)  # lock order: account, invoice
        locked = _lock_unpaid(invoice)
        txn = (
            post_entry(
                kind="payment",
                memo=f"invoice {locked.number} paid with credit",
                invoice=locked,
                actor=actor,
                legs=[
                    Leg(book, -locked.total),
                    Leg(system_book(LedgerAccount.Code.SALES, locked.currency), locked.total),
                ],
            )
            if locked.total
            else None
        )
        _record_payment(
            invoice=locked, method=Payment.Method.CREDIT, txn=txn, actor=actor, amount=locked.total
        )
    return locked


@dataclass(frozen=True)
class MoneyReceived:
    """What became of money received from outside (a gateway, a bank transfer)."""

    invoice: Invoice
    outcome: str  # "paid", or "credited" when the invoice could not take it
    credited: int  # minor units put on the account's credit
    note: str = ""


def invoice_pay_external(
    *, invoice: Invoice, method: str, gateway: str, reference: str, amount: int, actor: User | None
) -> MoneyReceived:
    """Record money received outside the ledger against the invoice; nothing is ever lost.

    Paying more than due puts the rest on credit (rule 8); money for an invoice that can no
    longer take it (paid already, void, its license deleted) goes to credit in full.
    """
    require_amount(amount)
    with transaction.atomic():
        book = lock_credit_book(invoice.account, invoice.currency)
        money_in = Leg(system_book(LedgerAccount.Code.GATEWAY, invoice.currency, gateway), -amount)
        try:
            with transaction.atomic():
                locked = _lock_unpaid(invoice)
                if amount < locked.total:
                    raise ValidationFailed(
                        f"{amount} is less than the {locked.total} due; record it only when the "
                        "whole invoice is paid.",
                        code="amount_short",
                    )
                # A deposit's money is the account's credit; anything else is a sale.
                destination = (
                    book
                    if locked.purpose == Invoice.Purpose.DEPOSIT
                    else system_book(LedgerAccount.Code.SALES, locked.currency)
                )
                txn = post_entry(
                    kind="payment",
                    memo=f"invoice {locked.number} paid by {gateway}",
                    invoice=locked,
                    actor=actor,
                    legs=[
                        money_in,
                        Leg(destination, locked.total),
                        Leg(book, amount - locked.total),
                    ],
                )
                _record_payment(
                    invoice=locked,
                    method=method,
                    txn=txn,
                    actor=actor,
                    amount=amount,
                    reference=reference,
                    gateway=gateway,
                )
                return MoneyReceived(locked, "paid", amount - locked.total)
        except (InvalidTransition, LicenseDeleted) as exc:
            note = exc.detail
        post_entry(
            kind="unapplied_payment",
            invoice=invoice,
            actor=actor,
            memo=f"{gateway} {reference}: credited, invoice {invoice.number} could not take it",
            legs=[money_in, Leg(book, amount)],
        )
        billing_events.payment_credited(
            invoice, amount=amount, gateway=gateway, reference=reference, actor=actor, why=note
        )
        return MoneyReceived(invoice, "credited", amount, note)


def _record_payment(
    *,
    invoice: Invoice,
    method: str,
    txn: LedgerTransaction | None,
    actor: User | None,
    amount: int,
    reference: str = "",
    gateway: str = "",
) -> None:
    now = timezone.now()
    # Whatever the invoice pays for must still be possible (e.g. a deleted license cannot be
    # renewed); this raises before anything is committed.
    invoice_on_paid(invoice=invoice, paid_at=now, actor=actor, check_only=True)
    if txn is not None:
        Payment.objects.create(
            invoice=invoice,
            method=method,
            amount=amount,
            currency=invoice.currency,
            created_at=now,
            reference=reference,
            gateway=gateway,
            ledger_transaction=txn,
        )
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, paid_at=now)
    invoice.status, invoice.paid_at = Invoice.Status.PAID, now
    billing_events.invoice_paid(invoice, method=method, amount=amount, actor=actor)
    invoice_on_paid(invoice=invoice, paid_at=now, actor=actor, check_only=False)


# Disputes (chargebacks) ---------------------------------------------------------------------
# The gateway withdraws a disputed payment's money at once: it leaves the gateway book for a
# book of held funds (`gateway:<name>:disputes`), and the sale stands until decided. Won, it
# goes back; lost, the sale is undone like a refund (the invoice becomes (partially) refunded,
# so the same money is never refunded again), or, for money that had gone to credit, it
# leaves the credit. A license the money paid for is not touched here: blocking a customer's
# server is staff's decision, so the dispute is flagged for staff with the licenses it paid.


@dataclass(frozen=True)
class DisputeReport:
    """A gateway's word on a dispute; `state` is one of `Dispute.State`."""

    gateway: str
    dispute_id: str
    payment_reference: str
    state: str
    gateway_status: str
    amount: int
    currency: str
    reason: str = ""
    evidence_due_at: datetime | None = None


_STATE = Dispute.State
# Events come in any order; a dispute's state only moves forward, and the first final one stays.
_RANK = {_STATE.INQUIRY: 0, _STATE.OPEN: 1, _STATE.WON: 2, _STATE.LOST: 2, _STATE.CLOSED: 2}
_WITHDRAWN = (_STATE.OPEN, _STATE.WON, _STATE.LOST)  # a won or lost one was withdrawn first


def dispute_record(*, report: DisputeReport) -> tuple[Dispute, str]:
    """Record what the gateway says about a dispute and move the money that calls for, once.

    Returns the dispute and what became of the report: "applied", "ignored" (nothing new),
    "deferred" (its payment is not known yet; `disputes_apply_for_payment` finishes it), or
    "mismatch" (left for staff).
    """
    if report.state not in _STATE.values:
        raise ValidationFailed(f"A dispute's state is one of {', '.join(_STATE.values)}.")
    require_amount(report.amount)
    with transaction.atomic():
        payment, invoice = _disputed_payment(report.gateway, report.payment_reference)
        if invoice is not None:  # lock order: account, invoice, then the dispute
            lock_credit_book(invoice.account, invoice.currency)
            invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        dispute, created = Dispute.objects.get_or_create(
            gateway=report.gateway,
            dispute_id=report.dispute_id,
            defaults={
                "payment_reference": report.payment_reference,
                "state": report.state,
                "gateway_status": report.gateway_status,
                "amount": report.amount,
                "currency": report.currency,
                "opened_at": timezone.now(),
            },
        )
        dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        advanced = _dispute_merge(dispute, report)
        if invoice is None:
            if created:
                dispute.needs_staff = True
                dispute.note = (
                    f"Its payment {report.payment_reference} is not known here "
                    "yet; settled when it is."
                )
            dispute.save()
            return dispute, "deferred"
        outcome = _dispute_apply(dispute, payment=payment, invoice=invoice)
        return dispute, "applied" if outcome == "ignored" and advanced else outcome


def disputes_apply_for_payment(*, gateway: str, reference: str) -> list[tuple[Dispute, str]]:
    """Settle the disputes that came before their payment, now that it is recorded (in the
    payment's transaction, which holds the account's and the invoice's locks already)."""
    payment, invoice = _disputed_payment(gateway, reference)
    if invoice is None:
        return []
    done = []
    for dispute in (
        Dispute.objects.select_for_update()
        .filter(gateway=gateway, payment_reference=reference, invoice__isnull=True)
        .order_by("id")
    ):
        done.append((dispute, _dispute_apply(dispute, payment=payment, invoice=invoice)))
    return done


def dispute_mark_handled(*, dispute: Dispute, actor: User, note: str) -> Dispute:
    """Staff have done what the dispute asked of them (answered it in the gateway, decided on
    the licenses it paid for): it leaves their list. Money is not moved here."""
    require_staff(actor, "handle disputes")
    note = (note or "").strip()
    if not note or len(note) > 300:
        raise ValidationFailed("note: say what was done, in at most 300 characters.")
    with transaction.atomic():
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if not locked.needs_staff:
            raise InvalidTransition(f"Dispute {locked.dispute_id} is not waiting for staff.")
        Dispute.objects.filter(pk=locked.pk).update(needs_staff=False, note=note)
        billing_events.dispute_handled(locked, note_before=locked.note, note=note, actor=actor)
    locked.refresh_from_db()
    return locked


def _disputed_payment(gateway: str, reference: str) -> tuple[Payment | None, Invoice | None]:
    """The payment a dispute is about and its invoice; or no payment and the invoice whose
    money went to credit (it was paid already); or neither, when not known yet."""
    if not reference:
        return None, None
    payment = (
        Payment.objects.select_related("invoice__account")
        .filter(gateway=gateway, reference=reference)
        .first()
    )
    if payment is not None:
        return payment, payment.invoice
    credited = (
        GatewayEvent.objects.select_related("invoice__account")
        .filter(gateway=gateway, payment_reference=reference, outcome=GatewayEvent.Outcome.OVERPAID)
        .first()
    )
    return None, credited.invoice if credited else None


def _dispute_merge(dispute: Dispute, report: DisputeReport) -> bool:
    """Take in the report's facts; True when it moved the dispute's state forward."""
    advanced = _RANK[_STATE(report.state)] > _RANK[_STATE(dispute.state)]
    if advanced:
        dispute.state = report.state
    if advanced or report.state == dispute.state:
        dispute.gateway_status = report.gateway_status
    if dispute.held_by_id is None and dispute.settled_by_id is None:
        dispute.amount, dispute.currency = report.amount, report.currency
    dispute.reason = report.reason or dispute.reason
    dispute.evidence_due_at = report.evidence_due_at or dispute.evidence_due_at
    return advanced


def _dispute_apply(dispute: Dispute, *, payment: Payment | None, invoice: Invoice) -> str:
    """Do, once, each step the dispute's state calls for; the caller holds the locks."""
    did = False
    if dispute.invoice_id is None:
        dispute.invoice, dispute.payment = invoice, payment
        dispute.needs_staff, dispute.note = True, "Respond in the gateway before the deadline."
        billing_events.payment_disputed(dispute, payment=payment)
        did = True
    if dispute.currency != invoice.currency:
        dispute.needs_staff = True
        dispute.note = (
            f"Disputed in {dispute.currency}, the payment was in {invoice.currency}:"
            " no money moved; for staff."
        )
        dispute.save()
        return "mismatch"
    gateway_book = system_book(LedgerAccount.Code.GATEWAY, invoice.currency, dispute.gateway)
    held_book = system_book(
        LedgerAccount.Code.GATEWAY, invoice.currency, f"{dispute.gateway}:disputes"
    )
    # The invoice is on the ledger rows only when this payment paid it.
    paid_invoice = invoice if payment is not None else None
    amount = dispute.amount
    if dispute.state in _WITHDRAWN and dispute.held_by_id is None:
        dispute.held_by = post_entry(
            kind="dispute_hold",
            invoice=paid_invoice,
            memo=f"{dispute.gateway} dispute {dispute.dispute_id}: withdrawn, held until decided",
            legs=[Leg(gateway_book, amount), Leg(held_book, -amount)],
        )
        billing_events.payment_dispute_funds_held(dispute)
        did = True
    outcome = "applied" if did else "ignored"
    if dispute.closed_at is None and dispute.state in (_STATE.WON, _STATE.LOST, _STATE.CLOSED):
        dispute.closed_at = timezone.now()
        outcome = "applied"
        if dispute.state == _STATE.WON:
            dispute.settled_by = post_entry(
                kind="dispute_won",
                invoice=paid_invoice,
                memo=f"{dispute.gateway} dispute {dispute.dispute_id}: won, the money is back",
                legs=[Leg(held_book, amount), Leg(gateway_book, -amount)],
            )
            dispute.needs_staff, dispute.note = False, "Won: the money came back."
            billing_events.payment_dispute_won(dispute)
        elif dispute.state == _STATE.LOST:
            outcome = _dispute_lose(dispute, payment=payment, invoice=invoice, held_book=held_book)
        else:
            dispute.needs_staff = dispute.held_by_id is not None
            dispute.note = (
                "Closed while its money is held: check the gateway; for staff."
                if dispute.needs_staff
                else "Closed without money moving."
            )
            billing_events.payment_dispute_closed(dispute)
    dispute.save()
    return outcome


def _dispute_lose(
    dispute: Dispute, *, payment: Payment | None, invoice: Invoice, held_book: LedgerAccount
) -> str:
    """The held money is gone for good. As far as the invoice this payment paid still has
    money in it, the sale (or the deposit's credit) is undone like a refund, so the same money
    is never refunded again; the rest (all of it when the money had gone to credit) leaves
    the account's credit, where an earlier refund put it. Credit already spent leaves it all
    held, for staff.

    A refund approved and on its way through the gateway is money that left (or is leaving)
    the invoice too: it is counted, so that what leaves the invoice, chargeback and refunds
    together, never exceeds what was paid, and that refund can still be booked."""
    amount, memo = dispute.amount, f"{dispute.gateway} dispute {dispute.dispute_id} lost"
    credit = lock_credit_book(invoice.account, invoice.currency)
    refunded = invoice_refunded_amount(invoice)
    in_flight = invoice_refunds_in_flight(invoice)
    takes = payment is not None and invoice.status in (
        Invoice.Status.PAID,
        Invoice.Status.PARTIALLY_REFUNDED,
    )
    from_invoice = max(0, min(amount, invoice.total - refunded - in_flight)) if takes else 0
    from_credit = amount - from_invoice
    licenses = _licenses_paid_by(invoice)
    try:
        with transaction.atomic():
            txns: list[LedgerTransaction] = []
            if from_invoice:
                source = (
                    credit
                    if invoice.purpose == Invoice.Purpose.DEPOSIT
                    else system_book(LedgerAccount.Code.SALES, invoice.currency)
                )
                txns.append(
                    post_entry(
                        kind="refund",
                        invoice=invoice,
                        memo=f"{memo}: chargeback of invoice {invoice.number}",
                        legs=[Leg(held_book, from_invoice), Leg(source, -from_invoice)],
                    )
                )
                _set_refund_status(
                    invoice, refunded + from_invoice, None, from_invoice, "chargeback"
                )
            if from_credit:
                txns.append(
                    post_entry(
                        kind="dispute_lost",
                        memo=f"{memo}: taken from credit",
                        legs=[Leg(held_book, from_credit), Leg(credit, -from_credit)],
                    )
                )
    except InsufficientCredit:
        dispute.needs_staff = True
        dispute.note = (
            f"Lost, but the account's credit is spent: {amount} is still held; "
            f"settle it by hand. Licenses it paid: {licenses or 'none'}."
        )
        billing_events.payment_dispute_lost(
            dispute, from_invoice=0, from_credit=0, licenses=licenses, refunds_in_flight=None
        )
        return "mismatch"
    dispute.settled_by = txns[0]
    dispute.needs_staff = True
    dispute.note = (
        f"Lost: the money is gone. Decide on the licenses it paid for: {licenses or 'none'}."
    )
    billing_events.payment_dispute_lost(
        dispute,
        from_invoice=from_invoice,
        from_credit=from_credit,
        licenses=licenses,
        refunds_in_flight=in_flight,
    )
    return "applied"


def _licenses_paid_by(invoice: Invoice) -> list[int]:
    """The licenses `invoice` paid for (renewal lines name theirs; an order delivers one)."""
    found = {line.license_id for line in invoice.lines.all() if line.license_id}
    try:
        order_license = invoice.order.license_id
    except ObjectDoesNotExist:
        order_license = None
    if order_license:
        found.add(order_license)
    return sorted(found)


def invoice_void(*, invoice: Invoice, reason: str, actor: User | None) -> Invoice:
    """Void one unpaid invoice (its buyer, its agent or staff)."""
    if actor is not None:
        require_act_for(actor, invoice.account, refusal="Not your invoice.")
    with transaction.atomic():
        locked = _lock_unpaid(invoice)
        invoices_void(invoice_ids=[locked.pk], reason=reason, actor=actor)
        locked.refresh_from_db()
    return locked


def invoices_due_for_ban(account_ids: list[int]) -> QuerySet[Invoice]:
    """The unpaid invoices a ban of the accounts voids: theirs, and their agents' for what
    the agents sell them (`account_invoices_void`, and the console's preview of a ban)."""
    sold_to_them = InvoiceLine.objects.filter(customer_id__in=account_ids).values("invoice_id")
    return Invoice.objects.filter(
        Q(account_id__in=account_ids) | Q(pk__in=sold_to_them), status=Invoice.Status.UNPAID
    )


def account_invoices_void(*, account_ids: list[int], reason: str, actor: User) -> list[int]:
    """Void every unpaid invoice of the accounts (a ban), and every unpaid invoice an agent
    has for what it sells them, locking them first, in the caller's transaction (after the
    accounts' credit books: the payments' lock order)."""
    ids = list(
        invoices_due_for_ban(account_ids)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return invoices_void(invoice_ids=ids, reason=reason, actor=actor)


def invoices_void(
    *, invoice_ids: list[int], reason: str, actor: User | None, actor_label: str = "system"
) -> list[int]:
    """Void those of `invoice_ids` that are unpaid, each with its `invoice.voided` event, in
    the caller's transaction (which has locked them: the sweep voids a batch of renewals of
    deleted licenses at once). Returns the ids voided."""
    voided = list(
        Invoice.objects.filter(pk__in=invoice_ids, status=Invoice.Status.UNPAID)
        .order_by("pk")
        .values_list("pk", "account_id")
    )
    if not voided:
        return []
    Invoice.objects.filter(pk__in=[pk for pk, _ in voided], status=Invoice.Status.UNPAID).update(
        status=Invoice.Status.VOID, voided_at=timezone.now(), void_reason=reason[:200]
    )
    billing_events.invoices_voided(
        voided, reason=reason, actor=actor, actor_label="" if actor else actor_label
    )
    return [pk for pk, _ in voided]


def invoice_refund_to_credit(
    *, invoice: Invoice, amount: int, reason: str, actor: User | None
) -> Invoice:
    """Give back `amount` of a paid invoice as credit (sales -> the account's credit)."""
    with transaction.atomic():
        locks = lock_for_money(invoice=invoice)
        book, locked = locks.book, locks.invoice
        if locked.status not in (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED):
            raise InvalidTransition(
                f"Invoice {locked.number} is {locked.status}; only paid invoices are refunded."
            )
        invoice_require_no_open_dispute(locked)
        refunded = invoice_require_refund_room(invoice=locked, amount=amount)
        post_entry(
            kind="refund",
            memo=f"refund of invoice {locked.number}: {reason}",
            invoice=locked,
            actor=actor,
            legs=[
                Leg(system_book(LedgerAccount.Code.SALES, locked.currency), -amount),
                Leg(book, amount),
            ],
        )
        _set_refund_status(locked, refunded + amount, actor, amount, "credit")
    return locked


def invoice_record_gateway_refund(
    *,
    invoice: Invoice,
    amount: int,
    gateway: str,
    reference: str,
    actor: User | None = None,
    refund: Refund | None = None,
) -> Invoice:
    """Money given back through the gateway: sales -> gateway, and a paid `Refund` row
    (`refund`, the approved one this books, or a new one for a refund made in the gateway).

    A deposit's money is the account's credit, so its refund comes out of that credit (and is
    refused with `insufficient_credit` when the credit is spent: then staff must settle it).
    """
    with transaction.atomic():
        locks = lock_for_money(invoice=invoice, refund=refund)
        book, locked = locks.book, locks.invoice
        if locked.status not in (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED):
            raise InvalidTransition(f"Invoice {locked.number} is {locked.status}.")
        refunded = invoice_require_refund_room(invoice=locked, amount=amount, refund=refund)
        source = (
            book
            if locked.purpose == Invoice.Purpose.DEPOSIT
            else system_book(LedgerAccount.Code.SALES, locked.currency)
        )
        post_entry(
            kind="refund",
            memo=f"refund of invoice {locked.number} through {gateway}",
            invoice=locked,
            actor=actor,
            legs=[
                Leg(source, -amount),
                Leg(system_book(LedgerAccount.Code.GATEWAY, locked.currency, gateway), amount),
            ],
        )
        if refund is None:
            Refund.objects.create(
                invoice=locked,
                account=locked.account,
                status=Refund.Status.PAID,
                eligible=amount,
                currency=locked.currency,
                rule="refunded_in_gateway",
                explanation=f"Refunded in {gateway} directly.",
                reason="gateway refund",
                destination=Refund.Destination.ORIGINAL,
                requested_by=locked.account,
                gateway_reference=reference,
                created_at=timezone.now(),
            )
        _set_refund_status(locked, refunded + amount, actor, amount, gateway)
    return locked


def invoice_refunded_amount(invoice: Invoice) -> int:
    """What the ledger has given back of `invoice` (booked refunds only)."""
    # Each refund moves its amount into one book (the credit or the gateway): the positive legs.
    return (
        Posting.objects.filter(
            transaction__invoice=invoice,
            transaction__kind="refund",
            amount__gt=0,
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def invoice_refunds_in_flight(invoice: Invoice, *, refund: Refund | None = None) -> int:
    """Refunds approved but not booked yet (on their way through a gateway), `refund` aside."""
    approved = Refund.objects.filter(invoice_id=invoice.pk, status=Refund.Status.APPROVED)
    if refund is not None:
        approved = approved.exclude(pk=refund.pk)
    return approved.aggregate(total=Sum("eligible"))["total"] or 0


def invoice_refund_spoken_for(invoice: Invoice, *, refund: Refund | None = None) -> int:
    """Of `invoice`, what is refunded or on its way back (RELIABILITY "Money"): every place
    that asks how much is left to refund counts this, not only the ledger."""
    return invoice_refunded_amount(invoice) + invoice_refunds_in_flight(invoice, refund=refund)


def invoice_require_no_open_dispute(invoice: Invoice) -> None:
    """Refuse a new promise of the (locked) invoice's money while a chargeback or an inquiry
    is open: the gateway holds that money. Only for new promises (a refund asked, approved,
    granted or given to credit); booking money that already moved never asks this."""
    open_dispute = invoice.disputes.filter(
        state__in=(Dispute.State.INQUIRY, Dispute.State.OPEN)
    ).first()
    if open_dispute is not None:
        raise InvoiceDisputed(
            f"The payment of invoice {invoice.number} is disputed at the "
            f"gateway ({open_dispute.gateway_status}); refund it once the "
            "dispute is decided."
        )


def invoice_require_refund_room(
    *, invoice: Invoice, amount: int, refund: Refund | None = None
) -> int:
    """Refuse `amount` unless it fits in what is left of the (locked) invoice; `refund` is the
    approved refund being booked, not counted against itself. Returns what the ledger had
    refunded before.

    No dispute check here: this is also where money that already moved (a refund the gateway
    paid) is booked, and that must be booked whatever happened meanwhile."""
    refunded = invoice_refunded_amount(invoice)
    if amount <= 0 or refunded + amount > invoice.total:
        raise InvalidTransition("A refund is positive and never more than was paid.")
    in_flight = invoice_refunds_in_flight(invoice, refund=refund)
    if refunded + in_flight + amount > invoice.total:
        raise RefundInFlight(
            f"{in_flight} of invoice {invoice.number} is on its way back through the gateway; "
            f"only {max(0, invoice.total - refunded - in_flight)} more can be refunded."
        )
    return refunded


def _set_refund_status(
    invoice: Invoice, refunded: int, actor: User | None, amount: int, destination: str
) -> None:
    status = (
        Invoice.Status.REFUNDED if refunded >= invoice.total else Invoice.Status.PARTIALLY_REFUNDED
    )
    before = invoice.status
    Invoice.objects.filter(pk=invoice.pk).update(status=status)
    invoice.status = status
    billing_events.invoice_refunded(
        invoice, before=before, amount=amount, destination=destination, actor=actor
    )


def deposit_create(*, account: User, amount: int, actor: User) -> Invoice:
    """An invoice whose one line is a deposit: once paid, the amount is the account's credit."""
    from django.conf import settings

    require_act_for(actor, account, refusal="Deposits are made for your own account.")
    account_require_in_good_standing(actor)
    account_require_in_good_standing(account)
    require_amount(amount)
    if amount > settings.LICENSARY["MAX_DEPOSIT"]:
        raise ValidationFailed(f"A deposit is at most {settings.LICENSARY['MAX_DEPOSIT']}.")
    now = timezone.now()
    with transaction.atomic():
        return invoice_issue(
            account=account,
            purpose=Invoice.Purpose.DEPOSIT,
            currency=account.currency,
            actor=actor,
            due_at=now + timedelta(days=30),
            lines=[
                LineSpec(
                    kind="deposit", amount=amount, description="Credit deposit (not refundable)"
                )
            ],
        )


def unapplied_refund_record(
    *, account: User, currency: str, gateway: str, reference: str, refunded_total: int
) -> int:
    """Money credited because its invoice could not take it, then refunded in the gateway:
    it leaves the account's credit. Returns the amount taken now (0 when already recorded)."""
    memo = f"{gateway} {reference}: refunded in the gateway"
    with transaction.atomic():
        book = lock_credit_book(account, currency)
        known = (
            Posting.objects.filter(
                account=book,
                amount__lt=0,
                transaction__memo=memo,
                transaction__kind="unapplied_refund",
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
        delta = refunded_total + known
        if delta <= 0:
            return 0
        post_entry(
            kind="unapplied_refund",
            memo=memo,
            legs=[
                Leg(book, -delta),
                Leg(system_book(LedgerAccount.Code.GATEWAY, currency, gateway), delta),
            ],
        )
        billing_events.payment_refunded_in_gateway(
            account, amount=delta, gateway=gateway, reference=reference
        )
        return delta
