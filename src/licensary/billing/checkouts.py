"""Payments started at a gateway that reports back through the payer's return (Zarinpal).

Such a gateway names a payment by a reference it hands out when the payment is asked for
(Zarinpal's `authority`) and later tells nothing about our invoice: the reference is all the
return visit carries. So the reference is kept here, with the invoice and the amount asked,
the moment the gateway hands it out. Nothing else is written: no money has moved yet, and
the payment, once verified, is recorded as a gateway event (`billing.webhooks`), once.
"""

from django.db import transaction
from django.utils import timezone

from licensary.billing.models import GatewayCheckout, Invoice
from licensary.core.errors import NotFound, ValidationFailed
from licensary.core.money import require_amount


def checkout_record(
    *,
    gateway: str,
    reference: str,
    invoice: Invoice,
    amount: int,
    currency: str,
    success_url: str,
    cancel_url: str,
) -> GatewayCheckout:
    """Remember the gateway's reference of a payment of `invoice` just asked for (after the
    gateway's answer, never around the call)."""
    require_amount(amount)
    if not reference or len(reference) > 100:
        raise ValidationFailed("A gateway reference is 1 to 100 characters.")
    with transaction.atomic():
        return GatewayCheckout.objects.create(
            gateway=gateway,
            reference=reference,
            invoice=invoice,
            amount=amount,
            currency=currency,
            success_url=success_url[:500],
            cancel_url=cancel_url[:500],
            created_at=timezone.now(),
        )


def checkout_get(*, gateway: str, reference: str) -> GatewayCheckout:
    """The payment `reference` started here, or `not_found` (a made-up or foreign reference)."""
    found = (
        GatewayCheckout.objects.select_related("invoice")
        .filter(gateway=gateway, reference=reference)
        .first()
    )
    if found is None:
        raise NotFound(f"No {gateway} payment {reference!r} was started here.")
    return found
