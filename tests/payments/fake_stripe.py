"""A small Stripe API on 127.0.0.1 for the official library to talk to, and Stripe's signing."""

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer
from typing import Any

from tests.json_handler import JsonHandler

WEBHOOK_SECRET = "whsec_test_licensary"


def sign(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header exactly as Stripe makes it: HMAC-SHA256 over `t.payload`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event(event_id: str, type_: str, obj: dict[str, Any]) -> str:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )


def session_completed(
    event_id: str,
    invoice: Any,
    *,
    amount: int | None = None,
    currency: str | None = None,
    intent: str = "pi_1",
) -> str:
    return event(
        event_id,
        "checkout.session.completed",
        {
            "id": f"cs_{event_id}",
            "object": "checkout.session",
            "payment_status": "paid",
            "amount_total": invoice.total if amount is None else amount,
            "currency": (currency or invoice.currency).lower(),
            "payment_intent": intent,
            "metadata": {"invoice": str(invoice.pk)},
        },
    )


def session_async_succeeded(event_id: str, invoice: Any, *, intent: str = "pi_1") -> str:
    """A delayed payment method (a bank debit) that cleared after the session completed."""
    return event(
        event_id,
        "checkout.session.async_payment_succeeded",
        {
            "id": f"cs_{intent}",
            "object": "checkout.session",
            "payment_status": "paid",
            "status": "complete",
            "amount_total": invoice.total,
            "currency": invoice.currency.lower(),
            "payment_intent": intent,
            "metadata": {"invoice": str(invoice.pk)},
        },
    )


def session_completed_unpaid(event_id: str, invoice: Any, *, intent: str = "pi_1") -> str:
    """Checkout finished, but a delayed payment method has not cleared: nothing is paid yet."""
    return event(
        event_id,
        "checkout.session.completed",
        {
            "id": f"cs_{intent}",
            "object": "checkout.session",
            "payment_status": "unpaid",
            "status": "complete",
            "amount_total": invoice.total,
            "currency": invoice.currency.lower(),
            "payment_intent": intent,
            "metadata": {"invoice": str(invoice.pk)},
        },
    )


def dispute(
    event_id: str,
    type_: str,
    *,
    dispute_id: str = "dp_1",
    intent: str = "pi_1",
    amount: int = 1500,
    status: str = "needs_response",
    currency: str = "usd",
    reason: str = "fraudulent",
) -> str:
    """A `charge.dispute.*` event: its object is the Dispute as Stripe sends it."""
    return event(
        event_id,
        type_,
        {
            "id": dispute_id,
            "object": "dispute",
            "amount": amount,
            "currency": currency,
            "charge": f"ch_{intent}",
            "payment_intent": intent,
            "reason": reason,
            "status": status,
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "created": int(time.time()),
            "balance_transactions": [],
            "evidence_details": {
                "due_by": int(time.time()) + 7 * 86400,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
        },
    )


def charge_refunded(
    event_id: str,
    *,
    intent: str,
    refunded: int,
    currency: str = "usd",
    refunds: list[dict[str, Any]] | None = None,
) -> str:
    """`refunds`: the charge's refunds as Stripe lists them (`refunds.data`), e.g. the fake's."""
    return event(
        event_id,
        "charge.refunded",
        {
            "id": f"ch_{intent}",
            "object": "charge",
            "payment_intent": intent,
            "amount_refunded": refunded,
            "currency": currency,
            "refunds": {"object": "list", "data": refunds or []},
        },
    )


class FakeStripe(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.fail_next = 0  # the next N requests are refused (402 card_error unless told)
        self.fail_status, self.fail_error = 402, {"type": "card_error", "message": "declined"}
        # The next N refunds are made, but answered with a 500 that Stripe then replays for
        # their idempotency key (its idempotency layer stores 500 answers too).
        self.refund_then_fail = 0
        self.refunds: dict[str, dict[str, Any]] = {}  # made, by id, in order
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}  # by idempotency key
        self.thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def prune_idempotency_keys(self) -> None:
        """What Stripe does to keys older than 24 hours: a repeated key is a new request."""
        self.answers.clear()

    def refund_requests(self) -> list[dict[str, list[str]]]:
        return [form for path, form, _ in self.requests if path == "/v1/refunds"]


class _Handler(JsonHandler):
    server: FakeStripe

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = urllib.parse.parse_qs(body)
        self.server.requests.append((self.path, form, dict(self.headers)))
        key = self.headers.get("Idempotency-Key", "")
        if key and key in self.server.answers:
            return self._send(*self.server.answers[key])
        if self.server.fail_next:
            self.server.fail_next -= 1
            return self._send(self.server.fail_status, {"error": self.server.fail_error})
        if self.path == "/v1/checkout/sessions":
            return self._send(
                200,
                {
                    "id": f"cs_{abs(hash(key))}",
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.test/pay/{abs(hash(key))}",
                    "metadata": {"invoice": form.get("metadata[invoice]", [""])[0]},
                },
            )
        if self.path == "/v1/refunds":
            refund = {
                "id": f"re_{len(self.server.refunds) + 1}",
                "object": "refund",
                "amount": int(form["amount"][0]),
                "status": "succeeded",
                "payment_intent": form["payment_intent"][0],
                "created": int(time.time()),
                "metadata": {
                    k[len("metadata[") : -1]: v[0]
                    for k, v in form.items()
                    if k.startswith("metadata[")
                },
            }
            self.server.refunds[refund["id"]] = refund
            answer: tuple[int, dict[str, Any]] = (200, refund)
            if self.server.refund_then_fail:
                self.server.refund_then_fail -= 1
                answer = (500, {"error": {"type": "api_error", "message": "internal error"}})
            if key:
                self.server.answers[key] = answer
            return self._send(*answer)
        return self._send(
            404, {"error": {"type": "invalid_request_error", "message": "unknown path"}}
        )

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        self.server.requests.append((path, params, dict(self.headers)))
        if path == "/v1/refunds":
            intent = params.get("payment_intent", [""])[0]
            found = [
                r
                for r in reversed(self.server.refunds.values())
                if not intent or r["payment_intent"] == intent
            ]
            return self._send(
                200, {"object": "list", "url": "/v1/refunds", "has_more": False, "data": found}
            )
        return self._send(
            404, {"error": {"type": "invalid_request_error", "message": "unknown path"}}
        )
