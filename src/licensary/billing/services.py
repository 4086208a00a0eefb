"""Every change to invoices and payments."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.services import account_require_in_good_standing
from licensary.audit.services import Change, audit_record
from licensary.billing.models import Invoice, InvoiceLine, InvoiceSequence, Payment, Refund
from licensary.core.errors import (
    InvalidTransition,
    LicenseDeleted,
    PermissionDenied,
    ValidationFailed,
)
from licensary.core.money import require_amount
from licensary.ledger.models import LedgerAccount, Posting
from licensary.ledger.services import Leg, lock_credit_book, post_entry, system_book


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
# locked last of all by `audit_record`, so every row lock is taken before the first audit entry.
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
    wanted = Q(status__in=OPEN_REFUND) | Q(pk=refund.pk) if refund is not None else \
        Q(status__in=OPEN_REFUND)
    refunds = list(Refund.objects.select_for_update().filter(wanted, invoice_id=locked.pk)
                   .order_by("pk"))
    decided = next((r for r in refunds if refund is not None and r.pk == refund.pk), None)
    if refund is not None and decided is None:
        raise InvalidTransition(f"Refund {refund.pk} is not a refund of invoice {locked.number}.")
    return MoneyLocks(book=book, invoice=locked,
                      open_refunds=[r for r in refunds if r.status in OPEN_REFUND],
                      refund=decided)


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    amount: int
    license_id: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


def next_invoice_numbers(count: int = 1) -> list[int]:
    """Take `count` consecutive numbers; the row lock holds them until the caller commits,
    so a rolled-back issue leaves no gap."""
    InvoiceSequence.objects.get_or_create(name="invoice")
    seq = InvoiceSequence.objects.select_for_update().get(name="invoice")
    first = seq.next_value
    InvoiceSequence.objects.filter(name="invoice").update(next_value=first + count)
    return list(range(first, first + count))


def invoice_issue(*, account: User, purpose: str, currency: str, lines: list[LineSpec],
                  due_at: datetime, actor: User | None, number: int | None = None) -> Invoice:
    """Create an unpaid invoice in the caller's transaction."""
    now = timezone.now()
    invoice = Invoice.objects.create(
        number=number if number is not None else next_invoice_numbers()[0],
        account=account, purpose=purpose, currency=currency,
        total=sum(line.amount for line in lines), issued_at=now, due_at=due_at,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, kind=line.kind, description=line.description,
                    amount=line.amount, license_id=line.license_id,
                    period_start=line.period_start, period_end=line.period_end)
        for line in lines
    )
    audit_record(Change(action="invoice.issued", object_type="invoice", object_id=invoice.pk,
                        actor=actor, actor_label="" if actor else "system",
                        account_id=account.pk,
                        after={"number": invoice.number, "total": invoice.total,
                               "purpose": purpose}))
    return invoice


def _lock_unpaid(invoice: Invoice) -> Invoice:
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.UNPAID:
        # A renewal voided because its license was deleted: say why (rule 5, `license_deleted`).
        if locked.status == Invoice.Status.VOID and locked.lines.filter(
                kind="renewal", license__status="deleted").exists():
            raise LicenseDeleted("This license is deleted; order it again (the setup fee "
                                 "applies).")
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
        txn = post_entry(
            kind="payment", memo=f"invoice {locked.number} paid with credit", invoice=locked,
            actor=actor,
            legs=[Leg(book, -locked.total),
                  Leg(system_book(LedgerAccount.Code.SALES, locked.currency), locked.total)],
        ) if locked.total else None
        _record_payment(invoice=locked, method=Payment.Method.CREDIT, txn=txn, actor=actor,
                        amount=locked.total)
    return locked


@dataclass(frozen=True)
class MoneyReceived:
    """What became of money received from outside (a gateway, a bank transfer)."""

    invoice: Invoice
    outcome: str  # "paid", or "credited" when the invoice could not take it
    credited: int  # minor units put on the account's credit
    note: str = ""


def invoice_pay_external(*, invoice: Invoice, method: str, gateway: str, reference: str,
                         amount: int, actor: User | None) -> MoneyReceived:
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
                        "whole invoice is paid.", code="amount_short")
                # A deposit's money is the account's credit; anything else is a sale.
                destination = book if locked.purpose == Invoice.Purpose.DEPOSIT else \
                    system_book(LedgerAccount.Code.SALES, locked.currency)
                txn = post_entry(
                    kind="payment", memo=f"invoice {locked.number} paid by {gateway}",
                    invoice=locked, actor=actor,
                    legs=[money_in, Leg(destination, locked.total),
                          Leg(book, amount - locked.total)],
                )
                _record_payment(invoice=locked, method=method, txn=txn, actor=actor,
                                amount=amount, reference=reference, gateway=gateway)
                return MoneyReceived(locked, "paid", amount - locked.total)
        except (InvalidTransition, LicenseDeleted) as exc:
            note = exc.detail
        post_entry(kind="unapplied_payment", invoice=invoice, actor=actor,
                   memo=f"{gateway} {reference}: credited, invoice {invoice.number} could not "
                        f"take it",
                   legs=[money_in, Leg(book, amount)])
        audit_record(Change(action="payment.credited", object_type="invoice",
                            object_id=invoice.pk, actor=actor, account_id=invoice.account_id,
                            after={"amount": amount, "gateway": gateway,
                                   "reference": reference}, reason=note))
        return MoneyReceived(invoice, "credited", amount, note)


def _record_payment(*, invoice: Invoice, method: str, txn: object, actor: User | None,
                    amount: int, reference: str = "", gateway: str = "") -> None:
    from licensary.billing.fulfilment import invoice_on_paid

    now = timezone.now()
    # Whatever the invoice pays for must still be possible (e.g. a deleted license cannot be
    # renewed); this raises before anything is committed.
    invoice_on_paid(invoice=invoice, paid_at=now, actor=actor, check_only=True)
    if txn is not None:
        Payment.objects.create(invoice=invoice, method=method, amount=amount,
                               currency=invoice.currency, created_at=now, reference=reference,
                               gateway=gateway, ledger_transaction=txn)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.PAID, paid_at=now)
    invoice.status, invoice.paid_at = Invoice.Status.PAID, now
    audit_record(Change(action="invoice.paid", object_type="invoice", object_id=invoice.pk,
                        actor=actor, account_id=invoice.account_id,
                        before={"status": "unpaid"},
                        after={"status": "paid", "method": method, "amount": amount}))
    invoice_on_paid(invoice=invoice, paid_at=now, actor=actor, check_only=False)


def invoice_void(*, invoice: Invoice, reason: str, actor: User | None) -> Invoice:
    if actor is not None and not actor.is_staff_account and actor.pk != invoice.account_id \
            and invoice.account.agent_id != actor.pk:  # an agent acts for its customers
        raise PermissionDenied("Not your invoice.")
    with transaction.atomic():
        locked = _lock_unpaid(invoice)
        now = timezone.now()
        Invoice.objects.filter(pk=locked.pk).update(
            status=Invoice.Status.VOID, voided_at=now, void_reason=reason[:200]
        )
        locked.status, locked.voided_at, locked.void_reason = Invoice.Status.VOID, now, reason
        audit_record(Change(action="invoice.voided", object_type="invoice", object_id=locked.pk,
                            actor=actor, account_id=locked.account_id,
                            before={"status": "unpaid"}, after={"status": "void"},
                            reason=reason))
    return locked


def invoice_refund_to_credit(*, invoice: Invoice, amount: int, reason: str,
                             actor: User | None) -> Invoice:
    """Give back `amount` of a paid invoice as credit (sales -> the account's credit)."""
    with transaction.atomic():
        locks = lock_for_money(invoice=invoice)
        book, locked = locks.book, locks.invoice
        if locked.status not in (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED):
            raise InvalidTransition(f"Invoice {locked.number} is {locked.status}; "
                                    "only paid invoices are refunded.")
        refunded = invoice_require_refund_room(invoice=locked, amount=amount)
        post_entry(kind="refund", memo=f"refund of invoice {locked.number}: {reason}",
                   invoice=locked, actor=actor,
                   legs=[Leg(system_book(LedgerAccount.Code.SALES, locked.currency), -amount),
                         Leg(book, amount)])
        _set_refund_status(locked, refunded + amount, actor, amount, "credit")
    return locked


def invoice_record_gateway_refund(*, invoice: Invoice, amount: int, gateway: str,
                                  reference: str, actor: User | None = None,
                                  refund: Refund | None = None) -> Invoice:
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
        source = book if locked.purpose == Invoice.Purpose.DEPOSIT else \
            system_book(LedgerAccount.Code.SALES, locked.currency)
        post_entry(kind="refund", memo=f"refund of invoice {locked.number} through {gateway}",
                   invoice=locked, actor=actor,
                   legs=[Leg(source, -amount),
                         Leg(system_book(LedgerAccount.Code.GATEWAY, locked.currency, gateway),
                             amount)])
        if refund is None:
            Refund.objects.create(
                invoice=locked, account=locked.account, status=Refund.Status.PAID,
                eligible=amount, currency=locked.currency, rule="refunded_in_gateway",
                explanation=f"Refunded in {gateway} directly.", reason="gateway refund",
                destination=Refund.Destination.ORIGINAL, requested_by=locked.account,
                gateway_reference=reference, created_at=timezone.now())
        _set_refund_status(locked, refunded + amount, actor, amount, gateway)
    return locked


def invoice_refunded_amount(invoice: Invoice) -> int:
    """What the ledger has given back of `invoice` (booked refunds only)."""
    # Each refund moves its amount into one book (the credit or the gateway): the positive legs.
    return Posting.objects.filter(
        transaction__invoice=invoice, transaction__kind="refund", amount__gt=0,
    ).aggregate(total=Sum("amount"))["total"] or 0


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


def invoice_require_refund_room(*, invoice: Invoice, amount: int,
                                refund: Refund | None = None) -> int:
    """Refuse `amount` unless it fits in what is left of the (locked) invoice; `refund` is the
    approved refund being booked, not counted against itself. Returns what the ledger had
    refunded before."""
    refunded = invoice_refunded_amount(invoice)
    if amount <= 0 or refunded + amount > invoice.total:
        raise InvalidTransition("A refund is positive and never more than was paid.")
    in_flight = invoice_refunds_in_flight(invoice, refund=refund)
    if refunded + in_flight + amount > invoice.total:
        raise RefundInFlight(
            f"{in_flight} of invoice {invoice.number} is on its way back through the gateway; "
            f"only {max(0, invoice.total - refunded - in_flight)} more can be refunded.")
    return refunded


def _set_refund_status(invoice: Invoice, refunded: int, actor: User | None, amount: int,
                       destination: str) -> None:
    status = (Invoice.Status.REFUNDED if refunded >= invoice.total
              else Invoice.Status.PARTIALLY_REFUNDED)
    before = invoice.status
    Invoice.objects.filter(pk=invoice.pk).update(status=status)
    invoice.status = status
    audit_record(Change(action="invoice.refunded", object_type="invoice", object_id=invoice.pk,
                        actor=actor, account_id=invoice.account_id, before={"status": before},
                        after={"status": status, "amount": amount,
                               "destination": destination}))


def deposit_create(*, account: User, amount: int, actor: User) -> Invoice:
    """An invoice whose one line is a deposit: once paid, the amount is the account's credit."""
    from django.conf import settings

    if not actor.is_staff_account and actor.pk != account.pk and account.agent_id != actor.pk:
        raise PermissionDenied("Deposits are made for your own account.")
    account_require_in_good_standing(actor)
    account_require_in_good_standing(account)
    require_amount(amount)
    if amount > settings.LICENSARY["MAX_DEPOSIT"]:
        raise ValidationFailed(f"A deposit is at most {settings.LICENSARY['MAX_DEPOSIT']}.")
    now = timezone.now()
    with transaction.atomic():
        return invoice_issue(
            account=account, purpose=Invoice.Purpose.DEPOSIT, currency=account.currency,
            actor=actor, due_at=now + timedelta(days=30),
            lines=[LineSpec(kind="deposit", amount=amount,
                            description="Credit deposit (not refundable)")])


def unapplied_refund_record(*, account: User, currency: str, gateway: str, reference: str,
                            refunded_total: int) -> int:
    """Money credited because its invoice could not take it, then refunded in the gateway:
    it leaves the account's credit. Returns the amount taken now (0 when already recorded)."""
    memo = f"{gateway} {reference}: refunded in the gateway"
    with transaction.atomic():
        book = lock_credit_book(account, currency)
        known = Posting.objects.filter(account=book, amount__lt=0, transaction__memo=memo,
                                       transaction__kind="unapplied_refund").aggregate(
            total=Sum("amount"))["total"] or 0
        delta = refunded_total + known
        if delta <= 0:
            return 0
        post_entry(kind="unapplied_refund", memo=memo,
                   legs=[Leg(book, -delta),
                         Leg(system_book(LedgerAccount.Code.GATEWAY, currency, gateway), delta)])
        audit_record(Change(action="payment.refunded_in_gateway", object_type="account",
                            object_id=account.pk, account_id=account.pk,
                            after={"amount": delta, "gateway": gateway, "reference": reference}))
        return delta
