"""Tickets, their messages and attachments, and the throttle hits kept as evidence."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Ticket(models.Model):
    """A conversation between an account (or its agent) and staff, in one department."""

    class Department(models.TextChoices):
        BILLING = "billing"
        TECHNICAL = "technical"
        SALES = "sales"
        TRANSFERS = "transfers"

    class Status(models.TextChoices):
        OPEN = "open"  # new, nobody from staff has answered
        ANSWERED = "answered"  # staff answered last
        CUSTOMER_REPLY = "customer_reply"  # the customer wrote after staff's answer
        CLOSED = "closed"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets"
    )
    department = models.CharField(max_length=16, choices=Department.choices)
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    # A ticket about a license (a licensing problem, a transfer); the license is the account's.
    license = models.ForeignKey(
        "licenses.License", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tickets",
    )
    # Opened by the platform for a use case (a transfer), not by the account: not spam, and
    # not one of the account's open tickets for the throttle.
    throttled = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["account"],
                condition=~Q(status="closed") & Q(throttled=True),
                name="support_ticket_open_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Ticket {self.pk} {self.department} {self.status}"


class Message(models.Model):
    """One message of a ticket; an internal note is staff's only, never shown to the customer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    internal = models.BooleanField(default=False)
    # Written by the account's side, so it counts towards the hourly message limit.
    counted = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["counted", "created_at"], name="support_msg_counted_idx")]

    def __str__(self) -> str:
        return f"Message {self.pk} on ticket {self.ticket_id}"


class Attachment(models.Model):
    """A file on a message, checked and stored as receipts are (`core.uploads`)."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    stored_name = models.CharField(max_length=64)
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"Attachment {self.pk} of message {self.message_id}"


class ThrottleHit(models.Model):
    """A refused ticket or message (rule 13): the evidence staff read when judging
    `support_spam`. Kept even though the request it refused changed nothing else."""

    class Kind(models.TextChoices):
        OPEN_TICKETS = "open_tickets"
        MESSAGES_PER_HOUR = "messages_per_hour"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="throttle_hits"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    limit = models.PositiveIntegerField()
    at = models.DateTimeField()
    ip = models.CharField(max_length=64, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.PROTECT)
    subject = models.CharField(max_length=200, blank=True)  # what was refused, its start

    class Meta:
        indexes = [models.Index(fields=["account", "id"], name="support_hit_account_idx")]

    def __str__(self) -> str:
        return f"{self.kind} hit by account {self.account_id} at {self.at}"
