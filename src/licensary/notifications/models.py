"""Agents' webhook endpoints, the messages queued for them and every attempt to deliver one
(the Standard Webhooks specification: a message keeps its `webhook-id` on every attempt)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """Where an agent wants events, and which ones; signed with its secret (sealed at rest).

    After a rotation the previous secret signs beside the new one until
    `previous_secret_expires_at`. An endpoint failing without a success since `failing_since`
    for WEBHOOK_DISABLE_AFTER_DAYS is disabled by the platform."""

    class Status(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=500)
    events = models.JSONField(default=list)  # contract names; `transfer.*`, `claim.*` wildcards
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    secret_sealed = models.CharField(max_length=300)
    previous_secret_sealed = models.CharField(max_length=300, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status="enabled", disabled_at__isnull=True)
                    | Q(status="disabled", disabled_at__isnull=False)
                ),
                name="%(app_label)s_%(class)s_disabled_has_time",
                violation_error_message="A disabled endpoint records when it was disabled.",
            ),
        ]
        indexes = [
            # The announcement handler's first question, asked for every event it may send.
            models.Index(
                fields=["agent"], condition=Q(status="enabled"), name="webhook_enabled_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} {self.url} ({self.status})"


class WebhookMessage(models.Model):
    """One event for one endpoint (a "delivery" in the API): its body is fixed when the event
    happens and sent as is on every attempt, under the same `webhook_id`.

    `attempt_count` is the fencing token of the attempts: an attempt is claimed by moving it
    on by one, and its outcome is recorded only while it is still the latest. The current
    window of retries began at `window_started_at` (the first attempt, or a replay)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="messages")
    webhook_id = models.CharField(max_length=40, unique=True)  # msg_...
    event_type = models.CharField(max_length=80)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    body = models.TextField()  # the exact JSON text: {type, timestamp, data}
    created_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", next_attempt_at__isnull=False)
                | (~Q(status="pending") & Q(next_attempt_at__isnull=True)),
                name="%(app_label)s_%(class)s_pending_has_next_attempt",
                violation_error_message="A pending message says when it is tried next.",
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_message_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_type} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a message: the answer's status code, the time to it and its first bytes,
    or the error that stood in its way (written after the call, in a transaction of its own)."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    message = models.ForeignKey(WebhookMessage, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()  # the message's attempt_count when it was claimed
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response = models.CharField(max_length=1024, blank=True)  # the answer's first 1 KB, as text
    error = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "number"],
                name="%(app_label)s_%(class)s_one_per_number",
                violation_error_message="An attempt of a message is recorded once.",
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.message_id}: {self.outcome}"


class MailMessage(models.Model):
    """One e-mail to one account (the outbox): written once per event and recipient, under its
    `dedupe_key` (unique), rendered when written; sent later by `notifications.mail`, outside
    any transaction. A sending worker claims it (pending -> sending, with `lease_until`);
    a sent message is never claimed again."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    # "<event>:<object>[:<moment>]>to:<account>", e.g. "license.blocked:41:2025-10-31T10:00>to:7"
    dedupe_key = models.CharField(max_length=200, unique=True)
    event = models.CharField(max_length=40)  # the template's name, e.g. "license_blocked"
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mail_messages"
    )
    to_email = models.EmailField()
    from_name = models.CharField(max_length=100)  # the platform's, or the agent's white label
    subject = models.CharField(max_length=200)
    text = models.TextField()
    html = models.TextField()
    language = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="%(app_label)s_%(class)s_sent_has_time",
                violation_error_message="A sent message records when it was sent, and only it.",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_until__isnull=False),
                name="%(app_label)s_%(class)s_sending_has_lease",
                violation_error_message="A message being sent says until when its sender holds it.",
            ),
        ]
        indexes = [
            # What is still to send (stragglers after a crash): a small part of the table.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="mail_unsent_idx",
            ),
            models.Index(fields=["account", "-id"], name="mail_account_idx"),
        ]

    def __str__(self) -> str:
        return f"mail {self.event} to {self.to_email} ({self.status})"
