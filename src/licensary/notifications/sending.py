"""Sending webhook messages: the durable job, one attempt at a time, never inside a transaction.

An attempt is claimed (a compare-and-swap on the message's `attempt_count`, committed), then
the POST is made, then its outcome is recorded in a fresh transaction, only while that attempt
is still the message's latest. A claimed message is "in flight" until IN_FLIGHT has passed:
a worker that died mid-attempt has its job given back after the lease (`jobs.tasks`), and the
job then claims the message again. A job that meets a message in flight raises once it has
done the rest, so that the job library retries it after the flight is over.

A failed attempt schedules the next one as a new job (`run_after`) by WEBHOOK_RETRY_SECONDS,
for WEBHOOK_RETRY_HOURS from the window's first attempt; the job library's own retries (5,
for crashes) are not bent into a 24-hour schedule. An endpoint that has failed without a
success for WEBHOOK_DISABLE_AFTER_DAYS is disabled and its agent told.
"""

import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from licensary.core.errors import UrlNotAllowed
from licensary.jobs.tasks import durable_task, enqueue, enqueue_after, heartbeat
from licensary.notifications import events as webhook_events
from licensary.notifications.mail import Mail, mails_queue_and_send
from licensary.notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from licensary.notifications.signing import signature_header, signing_secrets, timestamp_header
from licensary.notifications.targets import Target, target_check

M = WebhookMessage.Status
RESPONSE_BYTES = 1024
USER_AGENT = "Licensary-Webhooks/1"


class InFlight(Exception):
    """Messages of this job were being sent by another attempt: try them again later."""


def timeout() -> float:
    return float(settings.LICENSARY["WEBHOOK_TIMEOUT_SECONDS"])


def in_flight() -> timedelta:
    """How long a claimed attempt holds its message: well past the longest attempt (the
    address check, the connection, the answer's first bytes), well inside a job's lease."""
    return timedelta(seconds=3 * timeout())


@dataclass(frozen=True)
class Claim:
    message_id: int
    endpoint_id: int
    number: int
    webhook_id: str
    url: str
    body: str
    secrets: list[str]
    started_at: datetime


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int | None
    response: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@durable_task
def webhook_deliver(*, message_ids: str) -> int:
    """Attempt each due message of `message_ids` (a comma-separated text); how many went."""
    attempted = 0
    busy = False
    for pk in (int(text) for text in message_ids.split(",") if text):
        heartbeat()
        claim = attempt_claim(message_id=pk)
        if claim is None:
            busy = busy or _in_flight(pk)
            continue
        attempt_record(claim=claim, outcome=post(claim))
        attempted += 1
    if busy:
        raise InFlight(f"messages of {message_ids[:100]} were in flight; tried again later")
    return attempted


def _in_flight(pk: int) -> bool:
    """Whether the message's latest attempt is claimed and not yet recorded."""
    count = (
        WebhookMessage.objects.filter(pk=pk, status=M.PENDING, next_attempt_at__gt=timezone.now())
        .values_list("attempt_count", flat=True)
        .first()
    )
    if not count:
        return False
    return not WebhookAttempt.objects.filter(message_id=pk, number=count).exists()


def attempt_claim(*, message_id: int) -> Claim | None:
    """The next attempt of a due message, claimed (committed); None when it is not due, or
    its endpoint is disabled (the message then fails, untried)."""
    now = timezone.now()
    message = (
        WebhookMessage.objects.select_related("endpoint")
        .filter(pk=message_id, status=M.PENDING, next_attempt_at__lte=now)
        .first()
    )
    if message is None:
        return None
    endpoint = message.endpoint
    current = WebhookMessage.objects.filter(
        pk=message.pk, status=M.PENDING, attempt_count=message.attempt_count
    )
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        current.update(status=M.FAILED, next_attempt_at=None)
        return None
    number = message.attempt_count + 1
    claimed = current.update(
        attempt_count=number,
        next_attempt_at=now + in_flight(),
        window_started_at=message.window_started_at or now,
        window_attempts=F("window_attempts") + 1,
    )
    if claimed != 1:
        return None  # another job claimed it first
    return Claim(
        message_id=message.pk,
        endpoint_id=endpoint.pk,
        number=number,
        webhook_id=message.webhook_id,
        url=endpoint.url,
        body=message.body,
        secrets=signing_secrets(endpoint, at=now),
        started_at=now,
    )


def post(claim: Claim) -> Outcome:
    """POST the message to the endpoint: its URL checked again (DNS rebinding) and connected
    at the checked address, with the name kept for Host and TLS; no redirect is followed."""
    try:
        target = target_check(claim.url)
    except UrlNotAllowed as exc:
        return Outcome(None, None, "", f"refused: {exc.detail}"[:300])
    at = timezone.now()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": claim.webhook_id,
        "webhook-timestamp": timestamp_header(at),
        "webhook-signature": signature_header(
            claim.secrets, webhook_id=claim.webhook_id, at=at, body=claim.body
        ),
    }
    error = ""
    for address in target.addresses:
        started = time.monotonic()
        try:
            return _post_to(target, address, headers, claim.body, started)
        except httpx.ConnectError as exc:
            error = f"cannot connect to {address}: {exc}"  # the next address, if any
        except httpx.TimeoutException:
            return Outcome(None, _ms(started), "", f"no answer within {timeout():g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), "", f"{type(exc).__name__}: {exc}"[:300])
    return Outcome(None, None, "", error[:300])


def _post_to(
    target: Target,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    headers: dict[str, str],
    body: str,
    started: float,
) -> Outcome:
    url = httpx.URL(target.url)
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    pinned = {"host": host if target.port == default_port else f"{host}:{target.port}"}
    # TLS names the host (SNI, and the certificate checked against it); an address names itself.
    named = target.scheme == "https" and not target.literal
    extensions = {"sni_hostname": target.host} if named else {}
    # Straight to the checked address: a proxy from the environment would resolve the name
    # again, elsewhere.
    with (
        httpx.Client(timeout=timeout(), follow_redirects=False, trust_env=False) as client,
        client.stream(
            "POST",
            url.copy_with(host=str(address)),
            content=body.encode(),
            headers=headers | pinned,
            extensions=extensions,
        ) as response,
    ):
        latency = _ms(started)
        first = bytearray()
        deadline = started + timeout()
        for chunk in response.iter_bytes():
            first += chunk
            if len(first) >= RESPONSE_BYTES or time.monotonic() > deadline:
                break
    text = bytes(first[:RESPONSE_BYTES]).decode("utf-8", "replace").replace("\x00", "\ufffd")
    return Outcome(response.status_code, latency, text[:RESPONSE_BYTES], "")


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def next_attempt_at(
    *, window_started_at: datetime, attempts: int, failed_at: datetime
) -> datetime | None:
    """When to try again after the window's `attempts`-th attempt failed, or None: the window
    is over (its last attempt is made at its very end)."""
    waits = settings.LICENSARY["WEBHOOK_RETRY_SECONDS"]
    deadline = window_started_at + timedelta(hours=settings.LICENSARY["WEBHOOK_RETRY_HOURS"])
    if failed_at >= deadline:
        return None
    wait = timedelta(seconds=waits[min(attempts, len(waits)) - 1])
    return min(failed_at + wait, deadline)


def attempt_record(*, claim: Claim, outcome: Outcome) -> None:
    """Log the attempt and, while it is still the message's latest, settle the message and its
    endpoint: delivered, tried again later, given up, or the endpoint disabled."""
    now = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            message_id=claim.message_id,
            number=claim.number,
            started_at=claim.started_at,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response=outcome.response,
            error=outcome.error,
            outcome=WebhookAttempt.Outcome.SUCCEEDED
            if outcome.ok
            else WebhookAttempt.Outcome.FAILED,
        )
        message = (
            WebhookMessage.objects.select_for_update()
            .filter(pk=claim.message_id, status=M.PENDING, attempt_count=claim.number)
            .first()
        )
        if message is None:
            return  # replayed (or claimed again) meanwhile: the later attempt settles it
        endpoints = WebhookEndpoint.objects.filter(pk=claim.endpoint_id)
        if outcome.ok:
            WebhookMessage.objects.filter(pk=message.pk).update(
                status=M.SUCCEEDED,
                next_attempt_at=None,
                delivered_at=now,
                last_status_code=outcome.status_code,
            )
            endpoints.filter(failing_since__isnull=False).update(failing_since=None)
            return
        endpoints.filter(failing_since__isnull=True).update(failing_since=claim.started_at)
        disabled = _disable_if_failing(claim.endpoint_id, now)
        assert message.window_started_at is not None  # set by the claim
        retry_at = None
        if not disabled:
            retry_at = next_attempt_at(
                window_started_at=message.window_started_at,
                attempts=message.window_attempts,
                failed_at=now,
            )
        WebhookMessage.objects.filter(pk=message.pk).update(
            status=M.PENDING if retry_at else M.FAILED,
            next_attempt_at=retry_at,
            last_status_code=outcome.status_code,
        )
        if retry_at is not None:
            enqueue_after(webhook_deliver, retry_at, message_ids=str(message.pk))


def _disable_if_failing(endpoint_id: int, now: datetime) -> bool:
    """Disable the endpoint when it has failed, without a success, since
    WEBHOOK_DISABLE_AFTER_DAYS ago (checked and set in one conditional UPDATE)."""
    days = settings.LICENSARY["WEBHOOK_DISABLE_AFTER_DAYS"]
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(
            pk=endpoint_id,
            status=WebhookEndpoint.Status.ENABLED,
            failing_since__lte=now - timedelta(days=days),
        )
        .first()
    )
    if endpoint is None:
        return False
    assert endpoint.failing_since is not None
    endpoint.status = WebhookEndpoint.Status.DISABLED
    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"every attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
        f"({days} days without a success)"
    )
    endpoint.save(update_fields=["status", "disabled_at", "disabled_reason"])
    webhook_events.webhook_disabled_failing(endpoint)
    enqueue(notify_webhook_disabled, endpoint_id=endpoint.pk)
    return True


@durable_task
def notify_webhook_disabled(*, endpoint_id: int) -> int:
    """Tell the agent its endpoint was disabled, why, and how to turn it back on."""
    endpoint = (
        WebhookEndpoint.objects.select_related("agent__agent")
        .filter(pk=endpoint_id, status=WebhookEndpoint.Status.DISABLED)
        .first()
    )
    if endpoint is None:
        return 0  # enabled again meanwhile
    return mails_queue_and_send(
        [
            Mail(
                key=f"webhook.disabled:{endpoint.pk}:{endpoint.disabled_at}",
                to=endpoint.agent,
                template="webhook_disabled",
                context={
                    "endpoint_id": endpoint.pk,
                    "url": endpoint.url,
                    "reason": endpoint.disabled_reason,
                },
            )
        ]
    )
