"""Zarinpal, the gateway of the Iranian market, through its payment REST API v4.

The flow (https://www.zarinpal.com/docs/paymentGateway/connectToGateway):
1. `POST {base}/pg/v4/payment/request.json {merchant_id, amount, currency, description,
   callback_url, metadata}` answers `data.code` 100 and `data.authority`;
2. the payer pays at `{base}/pg/StartPay/{authority}`;
3. Zarinpal sends the payer's browser back to `callback_url?Authority=...&Status=OK|NOK`;
4. `POST {base}/pg/v4/payment/verify.json {merchant_id, amount, authority}` answers
   `data.code` 100 (verified now) or 101 (verified before) with `data.ref_id`. A payment
   that is never verified is given back to the payer by Zarinpal.

There is no webhook: the return visit, verified with Zarinpal, is the payment's evidence
(`billing.webhooks.zarinpal_return_receive`). `ZARINPAL_BASE_URL` is one host for the API and
StartPay alike: `https://payment.zarinpal.com` (the default) or `https://sandbox.zarinpal.com`.

Amounts: Zarinpal takes whole rials (IRR) or tomans (IRT, not an ISO 4217 code). Invoices are
accepted in IRR only; their totals are minor units like every amount here (hundredths, ISO
4217's exponent for IRR), so a total must be a whole number of rials.

Refunds: the payment API has no refund call. Zarinpal's refund service is a separate GraphQL
API that needs an access token from its panel, which this gateway does not hold, so `refund`
is refused and the refund goes back to staff (to credit, or paid back by hand).
"""

from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from licensary.billing.checkouts import checkout_record
from licensary.billing.gateways.base import Gateway, GatewayEventData, WebhookRejected
from licensary.billing.models import GatewayCheckout
from licensary.core.errors import DomainError

NAME = "zarinpal"
CURRENCY = "IRR"
TIMEOUT_SECONDS = 15.0
PAID, VERIFIED_BEFORE = 100, 101
# Zarinpal's verify codes that say, definitely, why nothing is paid (its error table).
NOT_PAID = -51  # "Session is not valid, session is not active paid try."
AMOUNT_DIFFERS = -50  # "Session is not valid, amounts values is not the same."


class ZarinpalRefused(DomainError):
    """Zarinpal answered and refused; nothing moved."""

    status = 502
    code = "gateway_unavailable"
    title = "Zarinpal refused"


class ZarinpalUnreachable(DomainError):
    """No usable answer (unreachable, timed out, a 5xx, not JSON): nothing is recorded, and
    asking again later is safe (a verified payment answers 101)."""

    status = 502
    code = "gateway_unreachable"
    title = "Zarinpal did not answer"


@dataclass(frozen=True)
class Verified:
    """Zarinpal's word that the payment of `authority` is done (code 100 or 101)."""

    authority: str
    code: int
    ref_id: str
    card_pan: str
    raw: dict[str, Any]


def base_url() -> str:
    return str(settings.ZARINPAL_BASE_URL).rstrip("/")


def start_pay_url(authority: str) -> str:
    return f"{base_url()}/pg/StartPay/{authority}"


def return_url() -> str:
    """Where Zarinpal sends the payer back (it appends `Authority` and `Status`)."""
    return f"{settings.PUBLIC_URL}/api/v1/gateways/{NAME}/return"


def rials(*, amount: int, currency: str) -> int:
    """The whole rials Zarinpal is asked for, for `amount` minor units of `currency`."""
    if currency != CURRENCY:
        raise DomainError(
            f"Zarinpal takes rials (IRR) only; this invoice is in {currency}. "
            "Pay it with credit, by bank transfer or at another gateway.",
            code="currency_not_supported",
            status=422,
        )
    whole, fraction = divmod(amount, 100)
    if fraction or whole <= 0:
        raise DomainError(
            f"Zarinpal takes whole rials; {amount} minor units of IRR is not one.",
            code="amount_not_supported",
            status=422,
        )
    return whole


def _merchant_id() -> str:
    merchant = str(settings.ZARINPAL_MERCHANT_ID)
    if not merchant:
        raise DomainError(
            "Zarinpal is not configured (ZARINPAL_MERCHANT_ID).",
            code="gateway_unavailable",
            status=503,
        )
    return merchant


def _call(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST one API call; `data` of a successful answer, or the refusal as an error."""
    url = f"{base_url()}/pg/v4/payment/{path}"
    try:
        response = httpx.post(
            url, json=body, headers={"Accept": "application/json"}, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as exc:
        raise ZarinpalUnreachable(f"Zarinpal could not be reached: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code >= 500 or not isinstance(answer, dict):
        raise ZarinpalUnreachable(f"Zarinpal gave no usable answer (HTTP {response.status_code}).")
    data, errors = answer.get("data"), answer.get("errors")
    data = data if isinstance(data, dict) else {}
    if data.get("code") in (PAID, VERIFIED_BEFORE):
        return data
    # The error is an object (`errors: {code, message, validations}`); some answers list it.
    if isinstance(errors, list):
        errors = next((e for e in errors if isinstance(e, dict)), None)
    error = errors if isinstance(errors, dict) else {}
    code = error.get("code", data.get("code"))
    message = str(error.get("message") or data.get("message") or "no message")[:200]
    raise ZarinpalRefused(
        f"Zarinpal refused {path.removesuffix('.json')}: code {code}, {message}",
        extra={"gateway_code": code},
    )


class ZarinpalGateway(Gateway):
    name = NAME

    def checkout(self, *, invoice: Any, success_url: str, cancel_url: str) -> str:
        amount = rials(amount=invoice.total, currency=invoice.currency)
        data = _call(
            "request.json",
            {
                "merchant_id": _merchant_id(),
                "amount": amount,
                "currency": CURRENCY,
                "description": f"Invoice {invoice.number}",
                "callback_url": return_url(),
                "metadata": {"order_id": str(invoice.pk), "email": invoice.account.email},
            },
        )
        authority = str(data.get("authority") or "")
        if not authority.isascii() or not authority.isalnum() or len(authority) > 100:
            raise ZarinpalUnreachable(f"Zarinpal answered without a usable authority: {data}")
        checkout_record(
            gateway=NAME,
            reference=authority,
            invoice=invoice,
            amount=invoice.total,
            currency=invoice.currency,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        return start_pay_url(authority)

    def verify(self, *, checkout: GatewayCheckout) -> Verified:
        """Ask Zarinpal whether the payment of `checkout` is done, and settle it there (a
        network call: never inside a database transaction)."""
        amount = rials(amount=checkout.amount, currency=checkout.currency)
        try:
            data = _call(
                "verify.json",
                {
                    "merchant_id": _merchant_id(),
                    "amount": amount,
                    "authority": checkout.reference,
                },
            )
        except ZarinpalRefused as exc:
            code = exc.extra.get("gateway_code")
            if code == NOT_PAID:
                raise DomainError(
                    "Zarinpal says this payment was not completed; nothing is paid.",
                    code="payment_not_completed",
                    status=409,
                ) from exc
            if code == AMOUNT_DIFFERS:
                raise DomainError(
                    "Zarinpal says the amount paid is not the amount of this invoice; "
                    "nothing is recorded, and Zarinpal gives the payment back.",
                    code="amount_mismatch",
                    status=409,
                ) from exc
            raise
        return Verified(
            authority=checkout.reference,
            code=int(data["code"]),
            ref_id=str(data.get("ref_id") or ""),
            card_pan=str(data.get("card_pan") or ""),
            raw=data,
        )

    def parse_webhook(self, *, body: bytes, headers: Any) -> GatewayEventData:
        raise WebhookRejected(
            "Zarinpal sends no webhooks: the payer returns to "
            f"/api/v1/gateways/{NAME}/return and the payment is verified from there."
        )

    def refund(
        self, *, payment_reference: str, amount: int, idempotency_key: str, tag: int | None = None
    ) -> str:
        # `gateway_unavailable` is the refunds' word for "refused, nothing moved": the refund
        # goes back to staff, who pay it to credit or give it back by hand.
        raise DomainError(
            "Zarinpal's payment API has no refund call: refund to credit, or give the "
            "money back from Zarinpal's panel.",
            code="gateway_unavailable",
            status=409,
        )


def payment_event(checkout: GatewayCheckout, verified: Verified) -> GatewayEventData:
    """The verified payment as a gateway event, named after its authority: one authority is
    one payment, so every later return (or a 101 after a 100) finds this event."""
    return GatewayEventData(
        event_id=checkout.reference,
        type="payment",
        payment_reference=checkout.reference,
        invoice_ref=str(checkout.invoice_id),
        amount=checkout.amount,
        currency=checkout.currency,
        raw={
            "type": "payment.verified",
            "authority": checkout.reference,
            "code": verified.code,
            "ref_id": verified.ref_id,
            "card_pan": verified.card_pan,
        },
    )
