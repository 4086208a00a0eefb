"""The spam throttles of rule 13: at most 3 open tickets and 10 messages an hour per account
(settings `SUPPORT_OPEN_TICKETS`, `SUPPORT_MESSAGES_PER_HOUR`), counted over what the account's
side wrote (staff's answers and notes, and tickets the platform opened for a transfer, do not
count). Each refusal is `429 rate_limited` with `Retry-After`, and leaves a `ThrottleHit` row
and an audit entry: the evidence staff read before a `support_spam` ban.

The count and the insert it guards run under the account's row lock (PostgreSQL) or SQLite's
single writer, so concurrent requests cannot both take the last place. The evidence is written
after the refusing transaction has rolled back, in one of its own, so it survives the refusal.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from licensary.accounts.models import User
from licensary.core.errors import RateLimited
from licensary.support import events as support_events
from licensary.support.models import Message, ThrottleHit, Ticket

HOUR = timedelta(hours=1)


@dataclass
class Throttled(Exception):
    """Raised inside the transaction; turned into the evidence and `rate_limited` outside."""

    kind: str
    limit: int
    retry_after: int
    detail: str


def open_ticket_limit() -> int:
    return settings.LICENSARY["SUPPORT_OPEN_TICKETS"]


def message_limit() -> int:
    return settings.LICENSARY["SUPPORT_MESSAGES_PER_HOUR"]


def lock_account(account: User) -> None:
    """The row every counted write of the account's tickets takes first."""
    User.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).get()


def check_open_tickets(account: User) -> None:
    limit = open_ticket_limit()
    open_now = (
        Ticket.objects.filter(account=account, throttled=True)
        .exclude(status=Ticket.Status.CLOSED)
        .count()
    )
    if open_now >= limit:
        raise Throttled(
            ThrottleHit.Kind.OPEN_TICKETS,
            limit,
            retry_after=int(HOUR.total_seconds()),
            detail=f"An account has at most {limit} open tickets; this one has {open_now}. "
            "Add to one of them, or close one first.",
        )


def check_messages(account: User, *, now: datetime) -> None:
    limit = message_limit()
    window = Message.objects.filter(
        ticket__account=account, counted=True, created_at__gt=now - HOUR
    )
    sent = window.count()
    if sent >= limit:
        oldest = window.aggregate(first=Min("created_at"))["first"] or now
        wait = max(1, math.ceil((oldest + HOUR - now).total_seconds()))
        raise Throttled(
            ThrottleHit.Kind.MESSAGES_PER_HOUR,
            limit,
            retry_after=wait,
            detail=f"An account sends at most {limit} messages an hour; try again in "
            f"{wait} seconds.",
        )


def record_hit(
    throttled: Throttled,
    *,
    account: User,
    actor: User,
    ip: str,
    ticket: Ticket | None,
    subject: str,
) -> RateLimited:
    """Keep the evidence of a refusal (in its own transaction) and return the refusal."""
    with transaction.atomic():
        hit = ThrottleHit.objects.create(
            account=account,
            actor=actor,
            kind=throttled.kind,
            limit=throttled.limit,
            at=timezone.now(),
            ip=ip[:64],
            ticket=ticket,
            subject=subject[:200],
        )
        support_events.ticket_throttled(hit)
    return RateLimited(
        throttled.detail,
        extra={"limit": throttled.limit, "kind": throttled.kind},
        headers={"Retry-After": str(throttled.retry_after)},
    )
