"""Rule 7 as one pure function: the facts in, the eligible amount and the deciding rule out."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RefundFacts:
    """Everything the policy looks at; built from the database by `refunds.refund_facts`."""

    purpose: str  # "order", "renewal" or "deposit"
    paid: int  # what was paid for the invoice, minor units
    already_refunded: int
    lines: tuple[tuple[str, int], ...]  # (kind, amount) of the invoice's lines
    product_kind: str | None = None  # "own" or "manufacturer"
    delivered: bool = False  # a license was issued for it
    order_rejected: bool = False  # held, then rejected by staff: never delivered
    manufacturer_rule: str = "none"  # "none", "within_days" or "manual"
    manufacturer_days: int = 0
    days_since_payment: float = 0.0
    periods_elapsed: int = 0  # full periods since the license was activated
    period_price: int = 0  # what this invoice paid for its period (its line, not today's price)
    current_period: bool = False  # this invoice paid the period in force now
    unresolvable: bool = False  # staff marked the licensing problem as unresolvable


@dataclass(frozen=True)
class RefundDecision:
    eligible: int
    rule: str
    explanation: str


def _cap(facts: RefundFacts, amount: int) -> int:
    """What is left of the rule's amount after earlier refunds; never more than was paid."""
    return max(0, min(amount, facts.paid) - facts.already_refunded)


def refund_policy(facts: RefundFacts) -> RefundDecision:
    """How much of a paid invoice may be refunded, and which part of rule 7 says so."""
    if facts.paid - facts.already_refunded <= 0:
        return RefundDecision(
            0, "nothing_left", "Everything paid has been refunded already (or is on its way back)."
        )
    if facts.purpose == "deposit":
        return RefundDecision(0, "deposit_not_refundable", "Credit deposits are never refunded.")
    if facts.order_rejected:
        return RefundDecision(
            _cap(facts, facts.paid),
            "never_delivered",
            "The order was never delivered, so all of it is refunded.",
        )
    if not facts.delivered:
        return RefundDecision(
            0,
            "awaiting_delivery",
            "The order is not delivered yet; if staff reject it, it is refunded in full.",
        )
    if facts.product_kind == "manufacturer":
        if facts.manufacturer_rule == "within_days":
            if facts.days_since_payment <= facts.manufacturer_days:
                return RefundDecision(
                    _cap(facts, facts.paid),
                    "manufacturer_within_days",
                    f"The manufacturer refunds within {facts.manufacturer_days} days.",
                )
            return RefundDecision(
                0,
                "manufacturer_window_passed",
                f"The manufacturer refunds only within {facts.manufacturer_days} days of payment.",
            )
        if facts.manufacturer_rule == "manual":
            return RefundDecision(
                _cap(facts, facts.paid),
                "manufacturer_manual",
                "The manufacturer decides case by case; staff set the amount.",
            )
        return RefundDecision(
            0, "manufacturer_no_refund", "This manufacturer does not refund its licenses."
        )
    if not facts.unresolvable:
        return RefundDecision(
            0, "own_activated_no_refund", "Own licenses are not refunded once activated."
        )
    if facts.periods_elapsed >= 1:
        if not facts.current_period:
            return RefundDecision(
                0,
                "own_unresolvable_not_current_period",
                "A full period has passed, so only the current period is "
                "refunded, on the invoice that paid for it; this invoice paid "
                "another period.",
            )
        return RefundDecision(
            _cap(facts, facts.period_price),
            "own_unresolvable_current_period",
            "The problem is unresolvable and a full period has passed: what "
            "was paid for the current period is refunded.",
        )
    setup_fee = sum(amount for kind, amount in facts.lines if kind == "setup_fee")
    return RefundDecision(
        _cap(facts, facts.paid - setup_fee),
        "own_unresolvable_less_setup_fee",
        "The problem is unresolvable within the first period: everything "
        "paid less the setup fee is refunded.",
    )
