"""Every change to agents' webhook endpoints and deliveries, each in one transaction with its
event; and the queueing of messages for the events agents subscribed to.

An endpoint is its agent's: the agent registers, changes, tests and rotates it; staff may
enable, disable and replay from the console (the API lets staff read). A URL is checked
(`targets`) before the transaction: resolving a name is a network call.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from licensary.accounts.models import User
from licensary.accounts.policy import may_act_for, require_agent
from licensary.accounts.services import account_require_not_banned
from licensary.audit.bus import Announcement
from licensary.core.errors import InvalidTransition, NotFound, ValidationFailed
from licensary.jobs.tasks import enqueue
from licensary.notifications import events as webhook_events
from licensary.notifications import webhook_types
from licensary.notifications.models import WebhookEndpoint, WebhookMessage
from licensary.notifications.sending import webhook_deliver
from licensary.notifications.signing import secret_new, secret_seal
from licensary.notifications.targets import target_check

E = WebhookEndpoint.Status
JOB_MESSAGES = 500  # messages per delivery job (a sweep batch makes thousands at once)
_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def webhook_id_new() -> str:
    """A message's `webhook-id`: `msg_` and 27 random letters and digits (160 bits)."""
    return "msg_" + get_random_string(27, _ID_CHARS)


def events_checked(chosen: list[str]) -> list[str]:
    """The event types asked for, each once in the order given; `validation_error` for a
    name webhooks do not carry."""
    unknown = [name for name in chosen if name not in webhook_types.SUBSCRIBABLE]
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}; events are "
            f"{', '.join(webhook_types.SUBSCRIBABLE)}."
        )
    if not chosen:
        raise ValidationFailed("events names at least one event type.")
    return list(dict.fromkeys(chosen))


def _require_own(endpoint: WebhookEndpoint, actor: User) -> None:
    # The agent itself, or staff (the console); anyone else never sees it.
    if not may_act_for(actor, endpoint.agent_id, None):
        raise NotFound("No such object.")
    account_require_not_banned(actor)  # a banned agent still reads its deliveries (rule 6)


def endpoint_create(*, actor: User, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint of the agent `actor`, and its secret (shown once)."""
    agent = require_agent(actor, "register webhooks")
    account_require_not_banned(agent)
    chosen = events_checked(events)
    target_check(url)
    secret = secret_new()
    with transaction.atomic():
        # The agent's row serialises its registrations, so the limit holds under concurrency.
        User.objects.select_for_update().filter(pk=agent.pk).values_list("pk").first()
        limit = settings.LICENSARY["WEBHOOK_MAX_ENDPOINTS"]
        if WebhookEndpoint.objects.filter(agent=agent).count() >= limit:
            raise ValidationFailed(
                f"An agent has at most {limit} webhook endpoints; disable or change one.",
                code="webhook_limit",
                status=409,
            )
        endpoint = WebhookEndpoint.objects.create(
            agent=agent,
            url=url,
            events=chosen,
            secret_sealed=secret_seal(secret),
            created_at=timezone.now(),
        )
        webhook_events.webhook_created(endpoint, actor=actor)
    return endpoint, secret


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User,
    url: str | None = None,
    events: list[str] | None = None,
    status: str | None = None,
) -> WebhookEndpoint:
    """Change its URL, its events, or its status: enabling starts it afresh (no failures
    counted); disabling stops its deliveries (pending ones fail at their next attempt)."""
    _require_own(endpoint, actor)
    if status is not None and status not in E.values:
        raise ValidationFailed(f"status is one of {', '.join(E.values)}.")
    chosen = events_checked(events) if events is not None else None
    if url is not None:
        target_check(url)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        asked = {"url": url, "events": chosen, "status": status}
        changes = {k: v for k, v in asked.items() if v is not None and getattr(locked, k) != v}
        if not changes:
            return locked
        before = {k: getattr(locked, k) for k in changes}
        for key, value in changes.items():
            setattr(locked, key, value)
        if changes.get("status") == E.ENABLED:
            locked.disabled_at, locked.disabled_reason, locked.failing_since = None, "", None
        elif changes.get("status") == E.DISABLED:
            locked.disabled_at = timezone.now()
            who = "its agent" if actor.pk == locked.agent_id else "staff"
            locked.disabled_reason = f"disabled by {who}"
        locked.save()
        webhook_events.webhook_updated(locked, before=before, after=changes, actor=actor)
    return locked


def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: User
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the one it replaces signs beside it for
    WEBHOOK_SECRET_OVERLAP_HOURS (an older one stops at once)."""
    _require_own(endpoint, actor)
    secret = secret_new()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        hours = settings.LICENSARY["WEBHOOK_SECRET_OVERLAP_HOURS"]
        locked.previous_secret_sealed = locked.secret_sealed
        locked.previous_secret_expires_at = timezone.now() + timedelta(hours=hours)
        locked.secret_sealed = secret_seal(secret)
        locked.save(
            update_fields=["secret_sealed", "previous_secret_sealed", "previous_secret_expires_at"]
        )
        webhook_events.webhook_secret_rotated(locked, actor=actor)
    return locked, secret


def _require_enabled(endpoint: WebhookEndpoint, doing: str) -> None:
    if endpoint.status != E.ENABLED:
        raise InvalidTransition(
            f"This endpoint is disabled; enable it (PATCH status enabled) before {doing}."
        )


def endpoint_test(*, endpoint: WebhookEndpoint, actor: User) -> WebhookMessage:
    """Queue a `webhook.test` message to the endpoint, whatever events it subscribed to."""
    _require_own(endpoint, actor)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        _require_enabled(locked, "testing it")
        now = timezone.now()
        data = {"webhook": str(locked.pk), "message": "A test event from Licensary."}
        message = WebhookMessage.objects.create(
            endpoint=locked,
            webhook_id=webhook_id_new(),
            event_type=webhook_types.TEST_EVENT,
            object_type="webhook",
            object_id=str(locked.pk),
            body=webhook_types.body(webhook_types.TEST_EVENT, now, data),
            created_at=now,
            next_attempt_at=now,
        )
        webhook_events.webhook_test_queued(message, actor=actor)
        enqueue(webhook_deliver, message_ids=str(message.pk))
    return message


def delivery_replay(*, message: WebhookMessage, actor: User) -> WebhookMessage:
    """Send the message again now, with the same `webhook-id` and body, retried afresh for
    WEBHOOK_RETRY_HOURS if it fails; whether it succeeded, failed or is still being retried."""
    _require_own(message.endpoint, actor)
    with transaction.atomic():
        locked = (
            WebhookMessage.objects.select_for_update().select_related("endpoint").get(pk=message.pk)
        )
        _require_enabled(locked.endpoint, "replaying to it")
        before = locked.status
        locked.status = WebhookMessage.Status.PENDING
        locked.next_attempt_at = timezone.now()
        locked.window_started_at = None
        locked.window_attempts = 0
        locked.save(
            update_fields=["status", "next_attempt_at", "window_started_at", "window_attempts"]
        )
        webhook_events.webhook_delivery_replayed(locked, before=before, actor=actor)
        enqueue(webhook_deliver, message_ids=str(locked.pk))
    return locked


def messages_queue(event: Announcement) -> int:
    """The announcement handler: a message for every enabled endpoint that subscribed to the
    event, of the agent each object concerns, with the delivery jobs, in the event's own
    transaction (a rolled-back change sends nothing). The first question is one indexed
    look for any enabled endpoint at all: a platform without webhooks pays only that."""
    name = webhook_types.contract_name(event.name)
    if name is None:
        return 0
    if not WebhookEndpoint.objects.filter(status=E.ENABLED).exists():
        return 0
    ids = list(dict.fromkeys(event.object_ids))  # a transfer is announced once per side
    agents_of = webhook_types.agents_of(event, ids)
    if not agents_of:
        return 0
    by_agent: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        status=E.ENABLED, agent_id__in=set().union(*agents_of.values())
    ).order_by("pk"):
        if webhook_types.subscribed(endpoint.events, name):
            by_agent.setdefault(endpoint.agent_id, []).append(endpoint)
    wanted = [pk for pk in ids if any(a in by_agent for a in agents_of.get(pk, ()))]
    if not wanted:
        return 0
    data = webhook_types.objects_data(event.object_type, wanted, event.name)
    now = timezone.now()
    messages = [
        WebhookMessage(
            endpoint=endpoint,
            webhook_id=webhook_id_new(),
            event_type=name,
            object_type=event.object_type,
            object_id=pk,
            body=webhook_types.body(name, now, data[pk]),
            created_at=now,
            next_attempt_at=now,
        )
        for pk in wanted
        if pk in data
        for agent in sorted(agents_of[pk])
        for endpoint in by_agent.get(agent, ())
    ]
    WebhookMessage.objects.bulk_create(messages, batch_size=JOB_MESSAGES)
    for start in range(0, len(messages), JOB_MESSAGES):
        chunk = messages[start : start + JOB_MESSAGES]
        enqueue(webhook_deliver, message_ids=",".join(str(m.pk) for m in chunk))
    return len(messages)
