"""Payment gateways behind one small interface; add one by writing a module and listing it."""

from django.conf import settings

from licensary.accounts.models import User
from licensary.accounts.services import account_require_in_good_standing
from licensary.billing.gateways.base import (
    DisputeFacts,
    Gateway,
    GatewayEventData,
    WebhookRejected,
)
from licensary.billing.gateways.zarinpal import ZarinpalGateway
from licensary.billing.models import Invoice
from licensary.core.errors import InvalidTransition, NotFound


def get_gateway(name: str) -> Gateway:
    # Stripe is imported on first use, not at the top: the Stripe SDK takes about a second to
    # import, which every process (each `licensary` command, each web worker) would pay at
    # start-up whether or not it ever takes a payment. There is no import cycle to dodge here.
    # Zarinpal speaks plain HTTP with httpx, which costs nothing to import.
    from licensary.billing.gateways.stripe import StripeGateway

    gateways: dict[str, type[Gateway]] = {"stripe": StripeGateway, "zarinpal": ZarinpalGateway}
    if name not in gateways:
        raise NotFound(f"No payment gateway {name!r}.")
    return gateways[name]()


def gateways_offered(invoice: Invoice) -> list[str]:
    """The gateways this server can take `invoice`'s payment at: those configured, and that
    take its currency (Zarinpal rials only)."""
    offered = []
    if settings.STRIPE_API_KEY:
        offered.append("stripe")
    if settings.ZARINPAL_MERCHANT_ID and invoice.currency == "IRR":
        offered.append("zarinpal")
    return offered


def invoice_checkout(
    *, invoice: Invoice, actor: User, gateway: str, success_url: str, cancel_url: str
) -> str:
    """Start paying `invoice` at `gateway`: the URL to send the payer to. The gateway is
    called outside any transaction; what it answers is recorded by its webhook or return."""
    account_require_in_good_standing(actor)
    account_require_in_good_standing(invoice.account)
    if invoice.status != Invoice.Status.UNPAID:
        raise InvalidTransition(f"Invoice {invoice.number} is {invoice.status}.")
    return get_gateway(gateway).checkout(
        invoice=invoice, success_url=success_url, cancel_url=cancel_url
    )


__all__ = [
    "DisputeFacts",
    "Gateway",
    "GatewayEventData",
    "WebhookRejected",
    "ZarinpalGateway",
    "gateways_offered",
    "get_gateway",
    "invoice_checkout",
]
