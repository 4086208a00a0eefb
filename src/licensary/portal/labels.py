"""The words for the stored values the pages show (statuses, kinds, line kinds), translated;
the values themselves stay the API's."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Promise] = {
    # licenses
    "active": _("active"),
    "blocked": _("blocked"),
    "canceled": _("canceled"),
    "deleted": _("deleted"),
    # kinds (rule 9: every license and invoice states its kind)
    "own": _("system license"),
    "manufacturer": _("original license"),
    # orders
    "awaiting_payment": _("awaiting payment"),
    "processing": _("processing"),
    "on_hold": _("on hold"),
    "completed": _("completed"),
    "rejected": _("rejected"),
    "new": _("new"),
    "renewal": _("renewal"),
    "claim": _("claim"),
    # hold reasons
    "ip_registered_here": _("the IP is registered here by another account"),
    "ip_registered_upstream": _("the manufacturer says the IP is registered by someone else"),
    "supplier_unavailable": _("no supplier could deliver"),
    # invoices
    "unpaid": _("unpaid"),
    "paid": _("paid"),
    "void": _("void"),
    "refunded": _("refunded"),
    "partially_refunded": _("partially refunded"),
    "order": _("order"),
    "deposit": _("deposit"),
    "license": _("license"),
    "setup_fee": _("setup fee"),
    # receipts
    "pending": _("pending"),
    "confirmed": _("confirmed"),
    # transfers
    "accepted": _("accepted"),
    "declined": _("declined"),
    # refunds
    "requested": _("requested"),
    "approved": _("approved"),
    # tickets
    "open": _("open"),
    "answered": _("answered"),
    "customer_reply": _("customer reply"),
    "closed": _("closed"),
}


def status_label(value: str) -> str | Promise:
    return LABELS.get(value, value)
