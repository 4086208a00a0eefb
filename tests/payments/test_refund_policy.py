"""Rule 7, table-driven: every branch of the refund policy, with the rule that decided."""

import pytest

from licensary.billing.refund_policy import RefundFacts, refund_policy

ORDER_LINES = (("license", 1000), ("setup_fee", 500))


def facts(**overrides) -> RefundFacts:
    base = {
        "purpose": "order",
        "paid": 1500,
        "already_refunded": 0,
        "lines": ORDER_LINES,
        "product_kind": "own",
        "delivered": True,
        "period_price": 1000,
    }
    return RefundFacts(**(base | overrides))


CASES = [
    (
        "deposit",
        facts(purpose="deposit", lines=(("deposit", 5000),), paid=5000, product_kind=None),
        0,
        "deposit_not_refundable",
    ),
    ("rejected order", facts(delivered=False, order_rejected=True), 1500, "never_delivered"),
    ("held order", facts(delivered=False), 0, "awaiting_delivery"),
    (
        "manufacturer none",
        facts(product_kind="manufacturer", manufacturer_rule="none"),
        0,
        "manufacturer_no_refund",
    ),
    (
        "manufacturer within days",
        facts(
            product_kind="manufacturer",
            manufacturer_rule="within_days",
            manufacturer_days=14,
            days_since_payment=13.9,
        ),
        1500,
        "manufacturer_within_days",
    ),
    (
        "manufacturer on the last day",
        facts(
            product_kind="manufacturer",
            manufacturer_rule="within_days",
            manufacturer_days=14,
            days_since_payment=14.0,
        ),
        1500,
        "manufacturer_within_days",
    ),
    (
        "manufacturer window passed",
        facts(
            product_kind="manufacturer",
            manufacturer_rule="within_days",
            manufacturer_days=14,
            days_since_payment=14.01,
        ),
        0,
        "manufacturer_window_passed",
    ),
    (
        "manufacturer manual",
        facts(product_kind="manufacturer", manufacturer_rule="manual"),
        1500,
        "manufacturer_manual",
    ),
    ("own activated", facts(), 0, "own_activated_no_refund"),
    (
        "own unresolvable, first period",
        facts(unresolvable=True),
        1000,
        "own_unresolvable_less_setup_fee",
    ),
    (
        "own unresolvable, a full period passed",
        facts(unresolvable=True, periods_elapsed=1, current_period=True),
        1000,
        "own_unresolvable_current_period",
    ),
    (
        "own unresolvable, an earlier period's invoice",
        facts(unresolvable=True, periods_elapsed=1),
        0,
        "own_unresolvable_not_current_period",
    ),
    (
        "own unresolvable renewal",
        facts(
            purpose="renewal",
            lines=(("renewal", 1000),),
            paid=1000,
            unresolvable=True,
            periods_elapsed=3,
            current_period=True,
        ),
        1000,
        "own_unresolvable_current_period",
    ),
    (
        "own unresolvable, partly refunded",
        facts(unresolvable=True, already_refunded=600),
        400,
        "own_unresolvable_less_setup_fee",
    ),
    (
        "all refunded",
        facts(order_rejected=True, delivered=False, already_refunded=1500),
        0,
        "nothing_left",
    ),
]


@pytest.mark.parametrize(("case", "given", "eligible", "rule"), CASES, ids=[c[0] for c in CASES])
def test_refund_policy_branch(case, given, eligible, rule):
    decision = refund_policy(given)
    assert (decision.eligible, decision.rule) == (eligible, rule)
    assert decision.explanation


def test_never_more_than_was_paid():
    decision = refund_policy(
        facts(
            unresolvable=True,
            periods_elapsed=2,
            paid=700,
            period_price=1000,
            lines=(("renewal", 700),),
            purpose="renewal",
            current_period=True,
        )
    )
    assert decision.eligible == 700
