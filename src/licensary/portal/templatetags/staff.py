"""The staff console's words for stored values the customer pages do not show (ban reasons,
claim statuses, account kinds): `{{ value|staff_label }}`, falling back to `status_label`."""

from django import template
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from licensary.portal.labels import status_label

register = template.Library()

STAFF_LABELS: dict[str, Promise] = {
    # ban reasons (rule 6)
    "tampering": _("tampering"),
    "sharing": _("sharing"),
    "fake_identity": _("fake identity"),
    "support_spam": _("support spam"),
    "other": _("other"),
    # claims
    "awaiting_owner": _("awaiting the owner"),
    "awaiting_proof": _("awaiting proof"),
    "awaiting_review": _("awaiting review"),
    "approved": _("approved"),
    # ticket departments and throttle kinds (rule 13)
    "billing": _("billing"),
    "technical": _("technical"),
    "sales": _("sales"),
    "transfers": _("transfers"),
    "open_tickets": _("too many open tickets"),
    "messages_per_hour": _("too many messages in an hour"),
    # accounts
    "customer": _("customer"),
    "agent": _("agent"),
    "staff": _("staff"),
}


@register.filter
def staff_label(value: str) -> str | Promise:
    return STAFF_LABELS.get(value) or status_label(value)
