"""What happens to agents' webhook endpoints, as events: each writes its audit entry and is
announced (`audit.bus`), in the caller's transaction. Secrets are never written down: an entry
says a secret was made or rotated, and until when the old one still signs.

`actor` None is the platform (`system:webhooks`): an endpoint that kept failing is disabled.
"""

from typing import Any

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.notifications.models import WebhookEndpoint, WebhookMessage

SYSTEM = "system:webhooks"


def webhook_created(endpoint: WebhookEndpoint, *, actor: User) -> None:
    _entry(
        endpoint,
        "webhook.created",
        actor=actor,
        after={"url": endpoint.url, "events": endpoint.events, "status": endpoint.status},
    )


def webhook_updated(
    endpoint: WebhookEndpoint, *, before: dict[str, Any], after: dict[str, Any], actor: User
) -> None:
    """`webhook.updated`: the fields `after` names, from what they were (`before`); an
    endpoint enabled or disabled by its agent or by staff is an update of its status."""
    _entry(endpoint, "webhook.updated", actor=actor, before=before, after=after)


def webhook_secret_rotated(endpoint: WebhookEndpoint, *, actor: User) -> None:
    """`webhook.secret_rotated`: a new secret signs; the old one beside it until the time
    named."""
    _entry(
        endpoint,
        "webhook.secret_rotated",
        actor=actor,
        after={"previous_secret_expires_at": endpoint.previous_secret_expires_at},
    )


def webhook_disabled_failing(endpoint: WebhookEndpoint) -> None:
    """`webhook.disabled`: it failed every attempt since `failing_since`; its agent is told."""
    _entry(
        endpoint,
        "webhook.disabled",
        actor=None,
        before={"status": WebhookEndpoint.Status.ENABLED},
        after={"status": endpoint.status, "failing_since": endpoint.failing_since},
        reason=endpoint.disabled_reason,
    )


def webhook_test_queued(message: WebhookMessage, *, actor: User) -> None:
    _delivery_entry(message, "webhook.test_queued", actor=actor)


def webhook_delivery_replayed(message: WebhookMessage, *, before: str, actor: User) -> None:
    """`webhook.delivery_replayed`: the message goes again, with the same `webhook-id`."""
    _delivery_entry(message, "webhook.delivery_replayed", actor=actor, before={"status": before})


def _delivery_entry(
    message: WebhookMessage, action: str, *, actor: User, before: dict[str, Any] | None = None
) -> None:
    _entry(
        message.endpoint,
        action,
        actor=actor,
        before=before or {},
        after={
            "delivery": message.pk,
            "webhook_id": message.webhook_id,
            "type": message.event_type,
        },
    )


def _entry(
    endpoint: WebhookEndpoint,
    action: str,
    *,
    actor: User | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    record(
        Change(
            action=action,
            object_type="webhook",
            object_id=endpoint.pk,
            actor=actor,
            actor_label="" if actor else SYSTEM,
            account_id=endpoint.agent_id,
            before=before or {},
            after=after or {},
            reason=reason[:200],
        )
    )
