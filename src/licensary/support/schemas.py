"""What the tickets API takes and answers. A customer reads staff as "staff", never by name."""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import StrictBool

from licensary.accounts.models import User
from licensary.core.text import Id, Printable
from licensary.support.models import Attachment, Message, ThrottleHit, Ticket

Body = Annotated[str, Printable(20_000, multiline=True)]


class TicketIn(Schema):
    department: Annotated[str, Printable(16)]
    subject: Annotated[str, Printable(200)]
    body: Body
    license: Id | None = None  # a ticket about one of the account's licenses
    account: Id | None = None  # an agent (or staff) opening for a customer


class MessageIn(Schema):
    body: Body
    internal: StrictBool = False  # staff only: a note the customer never sees


class AssignIn(Schema):
    staff: Id | None  # null: nobody


class CloseIn(Schema):
    note: Annotated[str, Printable(200, multiline=True)] = ""


class UnresolvableIn(Schema):
    note: Annotated[str, Printable(300, multiline=True)]


class LicenseUnresolvableIn(Schema):
    note: Annotated[str, Printable(300, multiline=True)]
    ticket: Id  # the ticket about this license where the problem was worked on


class AttachmentOut(Schema):
    id: str
    name: str
    content_type: str
    size: int


class MessageOut(Schema):
    id: str
    author: str
    from_staff: bool
    body: str
    internal: bool
    created_at: datetime
    attachments: list[AttachmentOut]


class TicketOut(Schema):
    id: str
    account: str
    department: str
    subject: str
    status: str
    license: str | None
    assigned_to: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    messages: list[MessageOut]


class ThrottleHitOut(Schema):
    id: str
    kind: str
    limit: int
    at: datetime
    ip: str
    ticket: str | None
    subject: str


class EvidenceOut(Schema):
    account: str
    count: int
    open_tickets: int
    messages_per_hour: int
    items: list[ThrottleHitOut]
    next_cursor: str | None


def _author(message: Message, viewer: User) -> str:
    if message.author.is_staff_account and not viewer.is_staff_account:
        return "staff"
    return message.author.email


def message_out(message: Message, viewer: User) -> dict:
    return {
        "id": str(message.pk),
        "author": _author(message, viewer),
        "from_staff": message.author.is_staff_account,
        "body": message.body,
        "internal": message.internal,
        "created_at": message.created_at,
        "attachments": [attachment_out(a) for a in message.attachments.all()],
    }


def attachment_out(a: Attachment) -> dict:
    return {
        "id": str(a.pk),
        "name": a.original_name,
        "content_type": a.content_type,
        "size": a.size,
    }


def ticket_out(ticket: Ticket, viewer: User) -> dict:
    assigned = ticket.assigned_to
    return {
        "id": str(ticket.pk),
        "account": str(ticket.account_id),
        "department": ticket.department,
        "subject": ticket.subject,
        "status": ticket.status,
        "license": str(ticket.license_id) if ticket.license_id else None,
        "assigned_to": (
            None if assigned is None else (assigned.email if viewer.is_staff_account else "staff")
        ),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "closed_at": ticket.closed_at,
        "messages": [message_out(m, viewer) for m in ticket.messages.all()],
    }


def hit_out(hit: ThrottleHit) -> dict:
    return {
        "id": str(hit.pk),
        "kind": hit.kind,
        "limit": hit.limit,
        "at": hit.at,
        "ip": hit.ip,
        "ticket": str(hit.ticket_id) if hit.ticket_id else None,
        "subject": hit.subject,
    }
