"""Payment gateways behind one small interface; add one by writing a module and listing it."""

from licensary.billing.gateways.base import (
    DisputeFacts,
    Gateway,
    GatewayEventData,
    WebhookRejected,
)
from licensary.billing.gateways.zarinpal import ZarinpalGateway
from licensary.core.errors import NotFound


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


__all__ = [
    "DisputeFacts",
    "Gateway",
    "GatewayEventData",
    "WebhookRejected",
    "ZarinpalGateway",
    "get_gateway",
]
