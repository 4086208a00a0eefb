"""What happens to invoices, as events: each writes its audit entry and is announced to the
apps that react (`audit.bus`), in the caller's transaction."""

from licensary.accounts.models import User
from licensary.audit.bus import announce, record
from licensary.audit.services import Change
from licensary.billing.models import Dispute, Invoice, Payment, Receipt, Refund
from licensary.billing.refund_policy import RefundDecision


def invoices_issued(
    issued: list[tuple[Invoice, dict[str, object]]], *, actor: User | None, actor_label: str
) -> None:
    """`invoice.issued`, for each (invoice, what else its entry says)."""
    record(
        *(
            Change(
                action="invoice.issued",
                object_type="invoice",
                object_id=invoice.pk,
                actor=actor,
                actor_label=actor_label,
                account_id=invoice.account_id,
                after={
                    "number": invoice.number,
                    "total": invoice.total,
                    "purpose": invoice.purpose,
                    **about,
                },
            )
            for invoice, about in issued
        )
    )


def invoices_voided(
    voided: list[tuple[int, int]], *, reason: str, actor: User | None, actor_label: str
) -> None:
    """`invoice.voided`, for each (invoice id, account id)."""
    record(
        *(
            Change(
                action="invoice.voided",
                object_type="invoice",
                object_id=pk,
                actor=actor,
                actor_label=actor_label,
                account_id=account_id,
                before={"status": "unpaid"},
                after={"status": "void"},
                reason=reason,
            )
            for pk, account_id in voided
        )
    )


def invoice_paid(invoice: Invoice, *, method: str, amount: int, actor: User | None) -> None:
    record(
        Change(
            action="invoice.paid",
            object_type="invoice",
            object_id=invoice.pk,
            actor=actor,
            account_id=invoice.account_id,
            before={"status": "unpaid"},
            after={"status": "paid", "method": method, "amount": amount},
        )
    )


def invoice_refunded(
    invoice: Invoice, *, before: str, amount: int, destination: str, actor: User | None
) -> None:
    """`invoice.refunded`: `amount` given back (to credit, a gateway, or a chargeback); the
    invoice's status (set on it) is refunded or partially refunded."""
    record(
        Change(
            action="invoice.refunded",
            object_type="invoice",
            object_id=invoice.pk,
            actor=actor,
            account_id=invoice.account_id,
            before={"status": before},
            after={"status": invoice.status, "amount": amount, "destination": destination},
        )
    )


def payment_credited(
    invoice: Invoice, *, amount: int, gateway: str, reference: str, actor: User | None, why: str
) -> None:
    """`payment.credited`: money received for `invoice`, which could not take it (`why`), went
    to the account's credit in full."""
    record(
        Change(
            action="payment.credited",
            object_type="invoice",
            object_id=invoice.pk,
            actor=actor,
            account_id=invoice.account_id,
            after={"amount": amount, "gateway": gateway, "reference": reference},
            reason=why,
        )
    )


def payment_refunded_in_gateway(
    account: User, *, amount: int, gateway: str, reference: str
) -> None:
    """`payment.refunded_in_gateway`: credited money refunded in the gateway left the credit."""
    record(
        Change(
            action="payment.refunded_in_gateway",
            object_type="account",
            object_id=account.pk,
            account_id=account.pk,
            after={"amount": amount, "gateway": gateway, "reference": reference},
        )
    )


# Disputes: each step is an entry on the disputed invoice, in the gateway's name.


def payment_disputed(dispute: Dispute, *, payment: Payment | None) -> None:
    """`payment.disputed`: the gateway opened a dispute (or an inquiry) on the payment."""
    _dispute_step(
        dispute,
        "payment.disputed",
        {
            "state": dispute.state,
            "gateway_status": dispute.gateway_status,
            "reason": dispute.reason,
            "evidence_due_at": dispute.evidence_due_at,
            "payment": payment.pk if payment else None,
        },
    )


def payment_dispute_funds_held(dispute: Dispute) -> None:
    """`payment.dispute_funds_held`: the gateway withdrew the money; held until decided."""
    _dispute_step(dispute, "payment.dispute_funds_held", {})


def payment_dispute_won(dispute: Dispute) -> None:
    """`payment.dispute_won`: the held money came back."""
    _dispute_step(dispute, "payment.dispute_won", {})


def payment_dispute_lost(
    dispute: Dispute,
    *,
    from_invoice: int,
    from_credit: int,
    licenses: list[int],
    refunds_in_flight: int | None,
) -> None:
    """`payment.dispute_lost`: the money is gone, taken `from_invoice` and `from_credit`
    (both 0, `refunds_in_flight` None, when the credit was spent: left for staff)."""
    after: dict[str, object] = {
        "from_invoice": from_invoice,
        "from_credit": from_credit,
        "licenses": licenses,
    }
    if refunds_in_flight is not None:
        after["refunds_in_flight"] = refunds_in_flight
    _dispute_step(dispute, "payment.dispute_lost", after)


def payment_dispute_closed(dispute: Dispute) -> None:
    """`payment.dispute_closed`: an inquiry closed (or prevented) without a decision."""
    _dispute_step(dispute, "payment.dispute_closed", {})


def _dispute_step(dispute: Dispute, action: str, after: dict[str, object]) -> None:
    invoice = dispute.invoice
    assert invoice is not None
    record(
        Change(
            action=action,
            object_type="invoice",
            object_id=invoice.pk,
            actor=None,
            actor_label=f"gateway:{dispute.gateway}",
            account_id=invoice.account_id,
            after={
                "dispute": dispute.dispute_id,
                "amount": dispute.amount,
                "currency": dispute.currency,
                "state": dispute.state,
                **after,
            },
            reason=dispute.note[:200],
        )
    )


def dispute_handled(dispute: Dispute, *, note_before: str, note: str, actor: User) -> None:
    """`dispute.handled`: staff did what the dispute asked (on its invoice, or on the dispute
    itself while its payment is not known here)."""
    invoice = dispute.invoice
    record(
        Change(
            action="dispute.handled",
            object_type="invoice" if invoice else "dispute",
            object_id=invoice.pk if invoice else dispute.pk,
            actor=actor,
            account_id=invoice.account_id if invoice else None,
            before={"note": note_before},
            after={"dispute": dispute.dispute_id, "state": dispute.state},
            reason=note[:200],
        )
    )


# Refunds: their `actor` is None when the platform decides (an order it refused).


def refund_requested(refund: Refund, *, actor: User | None) -> None:
    """`refund.requested`: asked for (or granted unasked), with the policy's answer."""
    record(
        Change(
            action="refund.requested",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            after={
                "invoice": refund.invoice.number,
                "eligible": refund.eligible,
                "rule": refund.rule,
            },
            reason=refund.reason,
        )
    )


def refund_approved(
    refund: Refund,
    *,
    quote: RefundDecision,
    amount: int,
    destination: str,
    actor: User | None,
    note: str,
) -> None:
    """`refund.approved`: `amount` of the `quote` to `destination`; `refund` is the row as it
    was requested (its eligible amount and rule then)."""
    record(
        Change(
            action="refund.approved",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            before={"eligible": refund.eligible, "rule": refund.rule},
            after={
                "amount": amount,
                "destination": destination,
                "quoted": quote.eligible,
                "rule": quote.rule,
            },
            reason=note,
        )
    )


def refund_rejected(refund: Refund, *, actor: User | None, reason: str) -> None:
    """`refund.rejected`: by staff, or superseded by a refund granted unasked."""
    record(
        Change(
            action="refund.rejected",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            reason=reason,
        )
    )


def refund_gateway_refused(refund: Refund, *, actor: User | None, detail: str) -> None:
    """`refund.gateway_refused`: the gateway refused to pay it; back in staff's queue."""
    record(
        Change(
            action="refund.gateway_refused",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            before={"status": "approved"},
            after={"status": "requested"},
            reason=detail,
        )
    )


def refund_booking_refused(
    refund: Refund, *, reference: str, actor: User | None, detail: str
) -> None:
    """`refund.booking_refused`: the gateway paid it (`reference`) but the books refused it;
    for staff to settle."""
    record(
        Change(
            action="refund.booking_refused",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            after={"status": "approved", "reference": reference, "needs_staff": True},
            reason=detail[:200],
        )
    )


def refund_paid(refund: Refund, *, gateway: str, reference: str, actor: User | None) -> None:
    """`refund.paid`: the gateway paid it back, and it is booked."""
    record(
        Change(
            action="refund.paid",
            object_type="refund",
            object_id=refund.pk,
            actor=actor,
            account_id=refund.account_id,
            before={"status": "approved"},
            after={"status": "paid", "gateway": gateway, "reference": reference},
        )
    )


def invoices_reminder_due(invoice_ids: list[int], *, stage: int) -> None:
    """`invoice.reminder_due`: renewal invoices whose reminder `stage` (1 at issue, then the
    later days of REMINDER_DAYS) is due now. Not a change of the invoice: announced only."""
    announce("invoice.reminder_due", "invoice", invoice_ids, stage=stage)


def receipt_uploaded(receipt: Receipt, *, actor: User) -> None:
    """`receipt.uploaded`: a bank-transfer receipt waits for staff."""
    record(
        Change(
            action="receipt.uploaded",
            object_type="receipt",
            object_id=receipt.pk,
            actor=actor,
            account_id=receipt.invoice.account_id,
            after={
                "invoice": receipt.invoice.number,
                "size": receipt.size,
                "content_type": receipt.content_type,
                "sha256": receipt.sha256,
                "reference": receipt.reference,
            },
        )
    )


def receipt_confirmed(
    receipt: Receipt,
    *,
    amount: int,
    outcome: str,
    credited: int,
    to_credit: bool,
    note: str,
    actor: User,
) -> None:
    """`receipt.confirmed`: staff recorded the `amount` it shows; the payment's `outcome`
    ("paid", or "credited" when the invoice could not take it, `note` says why)."""
    record(
        Change(
            action="receipt.confirmed",
            object_type="receipt",
            object_id=receipt.pk,
            actor=actor,
            account_id=receipt.invoice.account_id,
            before={"status": "pending"},
            after={
                "status": "confirmed",
                "amount": amount,
                "currency": receipt.invoice.currency,
                "outcome": outcome,
                "credited": credited,
                "to_credit": to_credit,
            },
            reason=note[:200],
        )
    )


def receipt_rejected(receipt: Receipt, *, actor: User, reason: str) -> None:
    """`receipt.rejected`: the customer (and the agent that uploaded it) are told why."""
    record(
        Change(
            action="receipt.rejected",
            object_type="receipt",
            object_id=receipt.pk,
            actor=actor,
            account_id=receipt.invoice.account_id,
            before={"status": "pending"},
            after={"status": "rejected"},
            reason=reason,
        )
    )
