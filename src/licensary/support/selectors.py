"""Reads of tickets: what a caller sees (internal notes only for staff), and the throttle
evidence of an account."""

from django.db.models import Count, Prefetch, QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import is_staff, visible
from licensary.core.errors import ValidationFailed
from licensary.support.models import Attachment, Message, ThrottleHit, Ticket


def messages_visible(user: User) -> QuerySet[Message]:
    qs = Message.objects.select_related("author").prefetch_related("attachments")
    return qs if is_staff(user) else qs.filter(internal=False)


def visible_tickets(user: User) -> QuerySet[Ticket]:
    """The tickets `user` may see (its own; an agent's customers' too; all for staff), each with
    the messages it may read."""
    qs = Ticket.objects.select_related("assigned_to").prefetch_related(
        Prefetch("messages", queryset=messages_visible(user))
    )
    return visible(qs, user)


def tickets_filtered(
    qs: QuerySet[Ticket],
    *,
    user: User,
    status: str | None,
    department: str | None,
    assigned: str | None,
    account: int | None,
) -> QuerySet[Ticket]:
    if status:
        if status not in Ticket.Status.values:
            raise ValidationFailed(f"status must be one of {', '.join(Ticket.Status.values)}.")
        qs = qs.filter(status=status)
    if department:
        if department not in Ticket.Department.values:
            raise ValidationFailed(
                f"department must be one of {', '.join(Ticket.Department.values)}."
            )
        qs = qs.filter(department=department)
    if assigned is not None:
        if assigned == "me":
            qs = qs.filter(assigned_to=user)
        elif assigned == "none":
            qs = qs.filter(assigned_to__isnull=True)
        elif assigned.isdigit() and len(assigned) < 19:
            qs = qs.filter(assigned_to_id=int(assigned))
        else:
            raise ValidationFailed("assigned is `me`, `none` or a staff member's id.")
    if account is not None:
        qs = qs.filter(account_id=account)
    return qs


def attachments_visible(user: User, ticket: Ticket) -> QuerySet[Attachment]:
    """The files of `ticket`'s messages `user` may download (never an internal note's, unless
    staff)."""
    qs = Attachment.objects.filter(message__ticket=ticket)
    return qs if is_staff(user) else qs.filter(message__internal=False)


def throttle_hits(account: User) -> QuerySet[ThrottleHit]:
    return ThrottleHit.objects.filter(account=account)


def throttle_hit_counts(account: User) -> dict[str, int]:
    hits = throttle_hits(account)
    return {
        "count": hits.count(),
        "open_tickets": hits.filter(kind=ThrottleHit.Kind.OPEN_TICKETS).count(),
        "messages_per_hour": hits.filter(kind=ThrottleHit.Kind.MESSAGES_PER_HOUR).count(),
    }


def throttle_hit_counts_by_account(account_ids: list[int]) -> dict[int, int]:
    """How many throttle hits each of `account_ids` has (absent: none); one query, for a list
    of tickets that shows each account's evidence."""
    rows = (
        ThrottleHit.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(n=Count("id"))
    )
    return {row["account_id"]: row["n"] for row in rows}
