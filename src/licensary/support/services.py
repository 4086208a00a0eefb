"""Every change to tickets (rule 13): opening, messages (with attachments) and internal notes,
assignment, closing, and staff's unresolvable mark on a ticket about a license (rule 7).

Status: a new ticket is `open`; staff's answer makes it `answered`; the account's reply after
that makes it `customer_reply`; `closed` by either side. A message (not a note) on a closed
ticket opens it again, for the account's side subject to the open-ticket limit.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_act_for, require_staff
from licensary.accounts.services import account_require_not_banned
from licensary.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from licensary.core.uploads import store_upload
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.support import events as support_events
from licensary.support.models import Attachment, Message, Ticket
from licensary.support.throttles import (
    Throttled,
    check_messages,
    check_open_tickets,
    lock_account,
    record_hit,
)

ATTACHMENT_STORE = "attachments"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 3
TS = Ticket.Status


def _clean(text: str, what: str, limit: int) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"{what}: write something.")
    if len(text) > limit:
        raise ValidationFailed(f"{what}: at most {limit} characters.")
    return text


def ticket_open(
    *,
    account: User,
    department: str,
    subject: str,
    body: str,
    actor: User,
    license: License | None = None,
    throttled: bool = True,
    ip: str = "",
) -> Ticket:
    """Open a ticket for `account` (itself, its agent, or staff for it) with its first message.

    `throttled=False` is for tickets the platform opens for a use case (a transfer): they are
    not spam and not among the account's open tickets for the limit."""
    require_act_for(
        actor, account, refusal="You can open tickets only for yourself or your customers."
    )
    if account.is_staff_account:
        raise ValidationFailed("Tickets are opened for customers and agents, not staff.")
    if department not in Ticket.Department.values:
        raise ValidationFailed(f"department must be one of {', '.join(Ticket.Department.values)}.")
    subject = _clean(subject, "subject", 200)
    body = _clean(body, "body", 20_000)
    if license is not None and license.account_id != account.pk:
        raise ValidationFailed("license: a ticket is about a license of its own account.")
    account_require_not_banned(account)
    counted = throttled and not actor.is_staff_account
    try:
        with transaction.atomic():
            now = timezone.now()
            if counted:
                lock_account(account)
                check_open_tickets(account)
                check_messages(account, now=now)
            ticket = Ticket.objects.create(
                account=account,
                department=department,
                subject=subject,
                license=license,
                throttled=throttled,
                created_at=now,
                updated_at=now,
            )
            Message.objects.create(
                ticket=ticket, author=actor, body=body, counted=counted, created_at=now
            )
            support_events.ticket_opened(ticket, actor=actor)
    except Throttled as refused:
        raise record_hit(
            refused, account=account, actor=actor, ip=ip, ticket=None, subject=subject
        ) from None
    return ticket


def ticket_message_add(
    *,
    ticket: Ticket,
    body: str,
    actor: User,
    internal: bool = False,
    files: Sequence[UploadedFile] = (),
    ip: str = "",
) -> Message:
    """Add a message (or, staff only, an internal note) to `ticket`, with up to 3 files."""
    account = ticket.account
    require_act_for(actor, account, refusal="Not your ticket.")
    staff = actor.is_staff_account
    if internal and not staff:
        raise PermissionDenied("Only staff write internal notes.")
    body = _clean(body, "body", 20_000)
    if len(files) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"At most {MAX_ATTACHMENTS} files on one message.")
    if not staff:
        account_require_not_banned(account)
    stored = []
    try:
        for f in files:
            stored.append(
                store_upload(
                    f, store=ATTACHMENT_STORE, max_bytes=MAX_ATTACHMENT_BYTES, what="An attachment"
                )
            )
    except BaseException:
        _remove(s.path for s in stored)  # a later file refused: none of the message's is kept
        raise
    counted = not staff
    try:
        with transaction.atomic():
            now = timezone.now()
            if counted:
                lock_account(account)
            locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
            before = locked.status
            reopening = before == TS.CLOSED and not internal
            if counted:
                if reopening and locked.throttled:
                    check_open_tickets(account)
                check_messages(account, now=now)
            message = Message.objects.create(
                ticket=locked,
                author=actor,
                body=body,
                internal=internal,
                counted=counted,
                created_at=now,
            )
            Attachment.objects.bulk_create(
                Attachment(
                    message=message,
                    stored_name=s.stored_name,
                    original_name=s.original_name,
                    content_type=s.kind.content_type,
                    size=s.size,
                    sha256=s.sha256,
                )
                for s in stored
            )
            if not internal:
                after = (
                    TS.ANSWERED if staff else (TS.OPEN if before == TS.OPEN else TS.CUSTOMER_REPLY)
                )
                Ticket.objects.filter(pk=locked.pk).update(
                    status=after, updated_at=now, closed_at=None
                )
                locked.status, locked.updated_at, locked.closed_at = after, now, None
            support_events.ticket_message_added(locked, message, before=before, actor=actor)
    except BaseException as failed:
        _remove(s.path for s in stored)
        if isinstance(failed, Throttled):
            raise record_hit(
                failed, account=account, actor=actor, ip=ip, ticket=ticket, subject=body
            ) from None
        raise
    ticket.status = locked.status
    return message


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def ticket_assign(*, ticket: Ticket, to: User | None, actor: User) -> Ticket:
    """Staff give the ticket to a staff member (or to nobody)."""
    require_staff(actor, "assign tickets")
    if to is not None and not to.is_staff_account:
        raise ValidationFailed("staff: tickets are assigned to staff members.")
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        before = locked.assigned_to_id
        if before == (to.pk if to else None):
            return locked
        locked.assigned_to = to
        locked.updated_at = timezone.now()
        locked.save(update_fields=["assigned_to", "updated_at"])
        support_events.ticket_assigned(locked, before=before, actor=actor)
    return locked


def ticket_close(*, ticket: Ticket, actor: User | None, note: str = "") -> Ticket:
    """Close the ticket (its side or staff; `actor` None: the platform, for a use case it
    opened the ticket for). Closing a closed ticket is `invalid_transition`."""
    if actor is not None:
        require_act_for(actor, ticket.account, refusal="Not your ticket.")
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status == TS.CLOSED:
            raise InvalidTransition(f"Ticket {locked.pk} is closed already.")
        before = locked.status
        now = timezone.now()
        Ticket.objects.filter(pk=locked.pk).update(status=TS.CLOSED, closed_at=now, updated_at=now)
        locked.status, locked.closed_at, locked.updated_at = TS.CLOSED, now, now
        support_events.ticket_closed(locked, before=before, note=note, actor=actor)
    return locked


def ticket_mark_unresolvable(*, ticket: Ticket, note: str, actor: User) -> Ticket:
    """Staff: the licensing problem this ticket is about cannot be solved (rule 7); the mark,
    naming the ticket, is what the refund policy reads."""
    require_staff(actor, "mark problems unresolvable")
    if ticket.license_id is None:
        raise ValidationFailed(
            "This ticket is about no license; open one about the license (its `license`)."
        )
    note = _clean(note, "note", 300)
    with transaction.atomic():
        lic = License.objects.select_for_update().get(pk=ticket.license_id)
        if lic.account_id != ticket.account_id:
            # Transferred since: the new owner's payments are not this ticket's to make
            # refundable.
            raise InvalidTransition(
                f"License {lic.pk} belongs to another account now; open a ticket there."
            )
        license_mark_unresolvable(license=lic, actor=actor, note=note, ticket=str(ticket.pk))
        support_events.ticket_marked_unresolvable(ticket, note=note, actor=actor)
    return ticket
