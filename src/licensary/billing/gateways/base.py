"""The gateway interface: start a checkout, read a signed webhook, refund a payment."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from licensary.core.errors import DomainError


class WebhookRejected(DomainError):
    status = 400
    code = "invalid_signature"
    title = "Webhook refused"


@dataclass(frozen=True)
class DisputeFacts:
    """What a gateway says about a dispute, `state` in our words (`Dispute.State`): "inquiry"
    (no money moved), "open" (the money was withdrawn), "won", "lost", "closed" (an inquiry
    that ended without money moving)."""

    dispute_id: str
    state: str
    gateway_status: str
    reason: str = ""
    evidence_due_at: datetime | None = None


@dataclass(frozen=True)
class GatewayEventData:
    """A verified event, in our terms."""

    event_id: str
    type: str  # "payment" | "refund" | "dispute" | anything else is stored and ignored
    payment_reference: str = ""  # the gateway's id of the payment (a PaymentIntent)
    invoice_ref: str | None = None
    amount: int = 0  # paid (payment), refunded so far in total (refund), disputed (dispute)
    currency: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    dispute: DisputeFacts | None = None
    # For a refund event: (our refund id, the gateway's refund id) of each refund it lists
    # that we asked for (tagged with our id when it was made).
    refunds_tagged: tuple[tuple[int, str], ...] = ()


class Gateway(ABC):
    name: str

    @abstractmethod
    def checkout(self, *, invoice: Any, success_url: str, cancel_url: str) -> str:
        """Start paying `invoice` at the gateway; returns the URL to send the payer to."""

    @abstractmethod
    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEventData:
        """Verify the signature and freshness, and translate the event (or WebhookRejected)."""

    @abstractmethod
    def refund(
        self, *, payment_reference: str, amount: int, idempotency_key: str, tag: int | None = None
    ) -> str:
        """Give `amount` back to the original payment, tagged with our refund id `tag`;
        returns the gateway's refund id."""

    def find_refund(self, *, payment_reference: str, tag: int) -> str | None:
        """The gateway's id of the refund of this payment tagged `tag`, if it made one."""
        return None
