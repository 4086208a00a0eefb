"""What a paid invoice sets in motion, by the kinds of its lines, without billing knowing who.

Billing sells lines (`license`, `setup_fee`, `renewal`, `deposit`) and knows only money. The
app that delivers what a kind of line buys registers a `LineHandler` for it at start-up
(`AppConfig.ready`): orders for `license` and `setup_fee`, licenses for `renewal`. A
`deposit` is billing's own: its money becomes the account's credit (`billing.services`).

A payment asks every handler of the invoice's lines twice, in its transaction: first with
`check_only` (refuse, so no money is taken for what can no longer be delivered), then to
deliver. A refund asks the handler for the facts rule 7 reads about what was bought.
"""

from datetime import datetime
from typing import Protocol

from licensary.accounts.models import User
from licensary.billing.models import Invoice, InvoiceLine

# Lines whose meaning billing itself carries out (no other app reacts to them).
BILLING_OWN_KINDS = frozenset({InvoiceLine.Kind.DEPOSIT})


class LineHandler(Protocol):
    def on_paid(
        self, *, invoice: Invoice, paid_at: datetime, actor: User | None, check_only: bool
    ) -> None:
        """Deliver what `invoice`'s lines of this handler's kinds bought (in the payment's
        transaction); with `check_only`, only raise when it can no longer be delivered."""

    def refund_facts(self, invoice: Invoice) -> dict[str, object]:
        """What rule 7 needs to know about what `invoice` bought (see `RefundFacts`)."""


_handlers: dict[str, LineHandler] = {}


def register_line_handler(kinds: tuple[str, ...], handler: LineHandler) -> None:
    """Make `handler` the one that delivers lines of `kinds` (from an `AppConfig.ready`)."""
    for kind in kinds:
        current = _handlers.get(kind)
        if current is not None and type(current) is not type(handler):
            raise RuntimeError(f"line kind {kind!r} already has a handler: {current!r}")
        _handlers[kind] = handler


def _handlers_of(invoice: Invoice) -> list[LineHandler]:
    """The distinct handlers of the invoice's line kinds, in line order."""
    found: list[LineHandler] = []
    for kind in invoice.lines.order_by("pk").values_list("kind", flat=True):
        if kind in BILLING_OWN_KINDS:
            continue
        handler = _handlers.get(kind)
        if handler is None:  # an app is missing: refuse the payment rather than lose it
            raise RuntimeError(f"no handler is registered for invoice lines of kind {kind!r}")
        if handler not in found:
            found.append(handler)
    return found


def invoice_on_paid(
    *, invoice: Invoice, paid_at: datetime, actor: User | None, check_only: bool
) -> None:
    """Deliver what `invoice` paid for, in the payment's transaction (see the module)."""
    for handler in _handlers_of(invoice):
        handler.on_paid(invoice=invoice, paid_at=paid_at, actor=actor, check_only=check_only)


def invoice_bought_facts(invoice: Invoice) -> dict[str, object]:
    """What the invoice's lines bought, as rule 7 reads it (empty for a deposit)."""
    facts: dict[str, object] = {}
    for handler in _handlers_of(invoice):
        facts |= handler.refund_facts(invoice)
    return facts
