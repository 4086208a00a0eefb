"""What happens to tickets, as events: each writes its audit entry (with the ticket's account,
so the account's history shows it) and announces it. Message bodies are not copied into the
log; an internal note's entry is staff's only (`INTERNAL_ACTIONS`)."""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.support.models import Message, ThrottleHit, Ticket

# Entries an owner never reads in its history: they are about staff's internal notes.
INTERNAL_ACTIONS = ("ticket.note_added",)


def _ticket_change(
    ticket: Ticket,
    action: str,
    *,
    actor: User | None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
    reason: str = "",
) -> Change:
    return Change(
        action=action,
        object_type="ticket",
        object_id=ticket.pk,
        actor=actor,
        actor_label="" if actor else "system",
        # An internal note is staff's: not in the account's own history.
        account_id=None if action in INTERNAL_ACTIONS else ticket.account_id,
        before=before or {},
        after=after or {},
        reason=reason,
    )


def ticket_opened(ticket: Ticket, *, actor: User) -> None:
    record(
        _ticket_change(
            ticket,
            "ticket.opened",
            actor=actor,
            after={
                "department": ticket.department,
                "subject": ticket.subject,
                "status": ticket.status,
                "license": ticket.license_id,
            },
        )
    )


def ticket_message_added(ticket: Ticket, message: Message, *, before: str, actor: User) -> None:
    action = "ticket.note_added" if message.internal else "ticket.message_added"
    record(
        _ticket_change(
            ticket,
            action,
            actor=actor,
            before={"status": before},
            after={
                "status": ticket.status,
                "message": message.pk,
                "attachments": message.attachments.count(),
            },
        ),
        staff_reply=actor.is_staff_account and not message.internal,
        message=message.pk,
    )


def ticket_assigned(ticket: Ticket, *, before: int | None, actor: User) -> None:
    record(
        _ticket_change(
            ticket,
            "ticket.assigned",
            actor=actor,
            before={"assigned_to": before},
            after={"assigned_to": ticket.assigned_to_id},
        )
    )


def ticket_closed(ticket: Ticket, *, before: str, note: str, actor: User | None) -> None:
    record(
        _ticket_change(
            ticket,
            "ticket.closed",
            actor=actor,
            before={"status": before},
            after={"status": ticket.status},
            reason=note[:200],
        )
    )


def ticket_throttled(hit: ThrottleHit) -> None:
    record(
        Change(
            action="support.throttled",
            object_type="account",
            object_id=hit.account_id,
            actor=hit.actor,
            account_id=hit.account_id,
            after={"kind": hit.kind, "limit": hit.limit, "hit": hit.pk, "ticket": hit.ticket_id},
        )
    )


def ticket_marked_unresolvable(ticket: Ticket, *, note: str, actor: User) -> None:
    record(
        _ticket_change(
            ticket,
            "ticket.marked_unresolvable",
            actor=actor,
            after={"license": ticket.license_id},
            reason=note[:200],
        )
    )
