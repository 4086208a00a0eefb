"""Stripe Checkout with the official library; webhooks verified with its signature check."""

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from stripe.params import RefundCreateParams

from licensary.billing.gateways.base import (
    DisputeFacts,
    Gateway,
    GatewayEventData,
    WebhookRejected,
)
from licensary.core.errors import DomainError

TOLERANCE_SECONDS = 300

# A Checkout Session whose money has arrived: at once (a card: `completed`), or later (a bank
# debit: `completed` with payment_status "unpaid", then `async_payment_succeeded`).
PAID_SESSION_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
# Every dispute event carries the whole Dispute; its status says where the money is. An
# inquiry moves no money; a chargeback withdraws it at once (Stripe docs, "Disputes").
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
DISPUTE_STATES = {
    "warning_needs_response": "inquiry",
    "warning_under_review": "inquiry",
    "needs_response": "open",
    "under_review": "open",
    "appeal_needs_response": "open",
    "appeal_under_review": "open",
    "won": "won",
    "lost": "lost",
    "warning_closed": "closed",
    "prevented": "closed",
}


def _client() -> stripe.StripeClient:
    key = settings.STRIPE_API_KEY
    if not key:
        raise DomainError(
            "Stripe is not configured (STRIPE_API_KEY).", code="gateway_unavailable", status=503
        )
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        key, base_addresses={"api": base} if base else None, max_network_retries=2
    )


class StripeGateway(Gateway):
    name = "stripe"

    def checkout(self, *, invoice: Any, success_url: str, cancel_url: str) -> str:
        try:
            session = _client().v1.checkout.sessions.create(
                {
                    "mode": "payment",
                    "client_reference_id": str(invoice.pk),
                    "metadata": {"invoice": str(invoice.pk)},
                    "payment_intent_data": {"metadata": {"invoice": str(invoice.pk)}},
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": invoice.currency.lower(),
                                "unit_amount": invoice.total,
                                "product_data": {"name": f"Invoice {invoice.number}"},
                            },
                        }
                    ],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                # Stripe takes idempotency keys: a retried checkout reuses the session.
                {"idempotency_key": f"checkout-{invoice.pk}-{invoice.total}"},
            )
        except stripe.StripeError as exc:
            raise DomainError(
                f"Stripe refused the checkout: {exc.user_message or exc}",
                code="gateway_unavailable",
                status=502,
            ) from exc
        return str(session.url)

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEventData:
        secret = settings.STRIPE_WEBHOOK_SECRET
        header = headers.get("Stripe-Signature", "")
        if not secret:
            raise WebhookRejected("STRIPE_WEBHOOK_SECRET is not set.")
        try:
            event = stripe.Webhook.construct_event(
                body, header, secret, tolerance=TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookRejected(f"Signature check failed: {exc}") from exc
        # The library refuses old timestamps; a timestamp from the future is refused too.
        stamp = dict(p.split("=", 1) for p in header.split(",") if "=" in p).get("t", "0")
        if int(stamp) > time.time() + TOLERANCE_SECONDS:
            raise WebhookRejected("The signature's timestamp is in the future.")
        raw = event.to_dict()
        obj = raw["data"]["object"]
        if raw["type"] in PAID_SESSION_EVENTS:
            if obj.get("payment_status") != "paid":
                return GatewayEventData(raw["id"], "ignored", raw=raw)
            metadata = obj.get("metadata") or {}
            return GatewayEventData(
                event_id=raw["id"],
                type="payment",
                payment_reference=str(obj.get("payment_intent") or obj.get("id")),
                invoice_ref=metadata.get("invoice") or obj.get("client_reference_id"),
                amount=int(obj.get("amount_total") or 0),
                currency=str(obj.get("currency") or "").upper(),
                raw=raw,
            )
        if raw["type"] == "charge.refunded":
            return GatewayEventData(
                event_id=raw["id"],
                type="refund",
                payment_reference=str(obj.get("payment_intent") or ""),
                amount=int(obj.get("amount_refunded") or 0),
                currency=str(obj.get("currency") or "").upper(),
                raw=raw,
                refunds_tagged=refunds_tagged(obj),
            )
        if raw["type"] in DISPUTE_EVENTS and obj.get("status") in DISPUTE_STATES:
            due = (obj.get("evidence_details") or {}).get("due_by")
            return GatewayEventData(
                event_id=raw["id"],
                type="dispute",
                payment_reference=str(obj.get("payment_intent") or obj.get("charge") or ""),
                amount=int(obj.get("amount") or 0),
                currency=str(obj.get("currency") or "").upper(),
                raw=raw,
                dispute=DisputeFacts(
                    dispute_id=str(obj["id"]),
                    state=DISPUTE_STATES[obj["status"]],
                    gateway_status=str(obj["status"]),
                    reason=str(obj.get("reason") or "")[:60],
                    evidence_due_at=datetime.fromtimestamp(int(due), tz=UTC) if due else None,
                ),
            )
        return GatewayEventData(raw["id"], "ignored", raw=raw)

    def refund(
        self, *, payment_reference: str, amount: int, idempotency_key: str, tag: int | None = None
    ) -> str:
        params: RefundCreateParams = {"payment_intent": payment_reference, "amount": amount}
        if tag is not None:  # how its webhook, or a later look-up, names our refund
            params["metadata"] = {REFUND_TAG: str(tag)}
        try:
            refund = _client().v1.refunds.create(params, {"idempotency_key": idempotency_key})
        except stripe.StripeError as exc:
            if _refused(exc):  # a definite 4xx answer: Stripe looked and moved nothing
                raise DomainError(
                    f"Stripe refused the refund: {exc.user_message or exc}",
                    code="gateway_unavailable",
                    status=502,
                ) from exc
            # Unreachable, a 5xx, or "idempotency key in use" (409, another request with this
            # key is still running): Stripe may have refunded, so this is no refusal.
            raise DomainError(
                f"Stripe's answer about the refund is unknown; it may or may not "
                f"have happened. Approve again to repeat it safely: {exc}",
                code=_unknown_code(exc),
                status=502,
            ) from exc
        return str(refund.id)

    def find_refund(self, *, payment_reference: str, tag: int) -> str | None:
        try:
            found = _client().v1.refunds.list({"payment_intent": payment_reference, "limit": 100})
        except stripe.StripeError as exc:
            raise DomainError(
                f"Stripe could not list the payment's refunds: {exc}",
                code="gateway_unreachable",
                status=502,
            ) from exc
        for refund in (r.to_dict() for r in found.auto_paging_iter()):
            if (refund.get("metadata") or {}).get(REFUND_TAG) == str(tag) and refund.get(
                "status"
            ) in ("succeeded", "pending"):
                return str(refund["id"])
        return None


REFUND_TAG = "licensary_refund"


def refunds_tagged(charge: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    """Our refunds among those a charge lists (`refunds.data`, each with its metadata)."""
    tagged = []
    for refund in (charge.get("refunds") or {}).get("data") or []:
        tag = str((refund.get("metadata") or {}).get(REFUND_TAG) or "")
        if tag.isdigit() and refund.get("status") in ("succeeded", "pending"):
            tagged.append((int(tag), str(refund.get("id"))))
    return tuple(tagged)


# Only these say "nothing moved"; every other error (5xx APIError, APIConnectionError,
# IdempotencyError, RateLimitError, a 409 conflict...) leaves the outcome unknown.
REFUSED = (
    stripe.CardError,
    stripe.InvalidRequestError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


def _refused(exc: stripe.StripeError) -> bool:
    status = exc.http_status or 0
    return (
        isinstance(exc, REFUSED)
        and 400 <= status < 500
        and status != 409
        and exc.code != "idempotency_key_in_use"
    )


def _unknown_code(exc: stripe.StripeError) -> str:
    if isinstance(exc, stripe.APIConnectionError):
        return "gateway_unreachable"
    return "gateway_outcome_unknown"
