"""What happens to invoices, as events: each writes its audit entry and is announced to the
apps that react (`audit.bus`), in the caller's transaction."""

from licensary.accounts.models import User
from licensary.audit.bus import announce, record
from licensary.audit.services import Change
from licensary.billing.models import Invoice, Receipt


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


def invoices_reminder_due(invoice_ids: list[int], *, stage: int) -> None:
    """`invoice.reminder_due`: renewal invoices whose reminder `stage` (1 at issue, then the
    later days of REMINDER_DAYS) is due now. Not a change of the invoice: announced only."""
    announce("invoice.reminder_due", "invoice", invoice_ids, stage=stage)


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
