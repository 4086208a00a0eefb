"""What the webhooks API takes and answers: its schemas and the renderers of an endpoint and of
a delivery (a message with its attempts)."""

import json
from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from licensary.core.text import Printable, column
from licensary.notifications.models import WebhookEndpoint, WebhookMessage
from licensary.notifications.webhook_types import SUBSCRIBABLE

Url = Annotated[str, Printable(column(WebhookEndpoint, "url"), min_length=1)]
EventType = Annotated[
    str,
    Printable(40, min_length=1),
    Field(description=f"One of {', '.join(SUBSCRIBABLE)}."),
]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(SUBSCRIBABLE))]
EndpointStatus = Annotated[str, Printable(16)]


class WebhookEndpointIn(Schema):
    url: Url
    events: EventTypes


class WebhookEndpointPatch(Schema):
    url: Url | None = None
    events: EventTypes | None = None
    status: EndpointStatus | None = None  # enabled | disabled


class WebhookEndpointOut(Schema):
    id: str
    url: str
    events: list[str]
    status: str
    created_at: datetime
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str
    previous_secret_expires_at: datetime | None


class WebhookEndpointSecretOut(WebhookEndpointOut):
    secret: str  # whsec_...: shown in this answer only


class WebhookAttemptOut(Schema):
    number: int
    at: datetime
    status_code: int | None
    latency_ms: int | None
    response: str
    error: str
    outcome: str


class WebhookDeliveryOut(Schema):
    id: str
    webhook: str
    webhook_id: str
    type: str
    status: str
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    attempts: list[WebhookAttemptOut]


def webhook_out(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": str(e.pk),
        "url": e.url,
        "events": e.events,
        "status": e.status,
        "created_at": e.created_at,
        "failing_since": e.failing_since,
        "disabled_at": e.disabled_at,
        "disabled_reason": e.disabled_reason,
        "previous_secret_expires_at": e.previous_secret_expires_at,
    }


def delivery_out(m: WebhookMessage) -> dict[str, Any]:
    return {
        "id": str(m.pk),
        "webhook": str(m.endpoint_id),
        "webhook_id": m.webhook_id,
        "type": m.event_type,
        "status": m.status,
        "payload": json.loads(m.body),
        "created_at": m.created_at,
        "next_attempt_at": m.next_attempt_at,
        "delivered_at": m.delivered_at,
        "last_status_code": m.last_status_code,
        "attempts": [
            {
                "number": a.number,
                "at": a.started_at,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "response": a.response,
                "error": a.error,
                "outcome": a.outcome,
            }
            for a in m.attempts.all()
        ],
    }
