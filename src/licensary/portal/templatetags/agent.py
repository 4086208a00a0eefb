"""The agent panel's words for stored values the other pages do not show (identity states,
price sources, webhook and delivery statuses, payment methods, credit movements):
`{{ value|agent_label }}` (falling back to `status_label`), `|price_source`, `|identity_label`."""

from django import template
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from licensary.portal.labels import status_label

register = template.Library()

AGENT_LABELS: dict[str, Promise] = {
    # identity (rule 12)
    "identity_unverified": _("not verified"),
    "identity_pending": _("waiting for staff"),
    "identity_verified": _("verified"),
    "identity_rejected": _("rejected"),
    # where a wholesale price comes from
    "agent_price": _("your own price"),
    "tier_price": _("your tier's price"),
    "list_price": _("list price"),
    # webhook endpoints and deliveries
    "enabled": _("enabled"),
    "disabled": _("disabled"),
    "pending": _("on its way"),
    "succeeded": _("succeeded"),
    "failed": _("failed"),
    # payment methods
    "credit": _("credit"),
    "gateway": _("payment gateway"),
    "bank": _("bank transfer"),
    "manual": _("recorded by staff"),
    # credit movements (ledger transaction kinds)
    "payment": _("payment"),
    "adjustment": _("adjustment by staff"),
    "refund": _("refund"),
    "unapplied_payment": _("payment kept as credit"),
    "unapplied_refund": _("refund kept as credit"),
    "dispute_hold": _("held for a dispute"),
    "dispute_won": _("dispute won"),
    "dispute_lost": _("dispute lost"),
}


@register.filter
def agent_label(value: str) -> str | Promise:
    return AGENT_LABELS.get(value) or status_label(value)


@register.filter
def price_source(value: str) -> str | Promise:
    """A quote's `source` (agent, tier, list) in words."""
    return AGENT_LABELS.get(f"{value}_price", value)


@register.filter
def identity_label(value: str) -> str | Promise:
    """An account's identity state (unverified, pending, verified, rejected) in words."""
    return AGENT_LABELS.get(f"identity_{value}", value)


# The stylesheet colours a badge by the customer pages' values: each of ours borrows the
# colour of the one that means the same to the reader (good, waiting, stopped).
TONES = {
    "verified": "active",
    "enabled": "active",
    "succeeded": "active",
    "unverified": "on_hold",
    "pending": "on_hold",
    "rejected": "rejected",
    "disabled": "rejected",
    "failed": "rejected",
    "revoked": "void",
    "expired": "void",
}


@register.filter
def tone(value: str) -> str:
    """The badge class that colours `value` (`class="badge {{ value|tone }}"`)."""
    return TONES.get(value, value)
