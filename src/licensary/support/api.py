"""Support tickets: open, read, write (with files), assign, close; the unresolvable mark; the
throttle evidence staff read before a `support_spam` ban."""

from typing import Annotated

from django.http import FileResponse
from ninja import Router, Status
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, require_staff
from licensary.billing.schemas import FILE_DOC
from licensary.core.api import Cursor, Limit, Page, get_visible, paginate, parse_id
from licensary.core.errors import UnsupportedMediaType, ValidationFailed
from licensary.core.http import AuthedRequest
from licensary.core.ip import client_ip
from licensary.core.text import Id, Printable
from licensary.core.uploads import file_response, limit_upload, stored_path
from licensary.licenses.schemas import LicenseOut, license_out
from licensary.licenses.selectors import visible_licenses
from licensary.support.schemas import (
    AssignIn,
    Body,
    CloseIn,
    EvidenceOut,
    LicenseUnresolvableIn,
    MessageIn,
    MessageOut,
    TicketIn,
    TicketOut,
    UnresolvableIn,
    hit_out,
    message_out,
    ticket_out,
)
from licensary.support.selectors import (
    attachments_visible,
    throttle_hit_counts,
    throttle_hits,
    tickets_filtered,
    visible_tickets,
)
from licensary.support.services import (
    ATTACHMENT_STORE,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    ticket_assign,
    ticket_close,
    ticket_mark_unresolvable,
    ticket_message_add,
    ticket_open,
)

router = Router(tags=["tickets"])
_body = TypeAdapter(Body)

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["body", "file"],
                    "properties": {
                        "body": {"type": "string", "maxLength": 20_000},
                        "internal": {"type": "boolean"},
                        "file": {
                            "type": "array",
                            "maxItems": MAX_ATTACHMENTS,
                            "items": {"type": "string", "format": "binary"},
                            "description": "PNG, JPEG, WebP or PDF, judged by its content; "
                            f"at most {MAX_ATTACHMENT_BYTES} bytes each.",
                        },
                    },
                }
            }
        },
    }
}


def _fresh(request: AuthedRequest[User], ticket_id: object) -> dict:
    return ticket_out(get_visible(visible_tickets(request.auth), ticket_id), request.auth)


@router.post("/tickets", response={201: TicketOut}, summary="Open a ticket")
def open_ticket(request: AuthedRequest[User], payload: TicketIn) -> Status:
    user = request.auth
    account = (
        account_get_visible(user=user, account_id=payload.account)
        if payload.account is not None
        else user
    )
    lic = (
        get_visible(visible_licenses(user), payload.license)
        if payload.license is not None
        else None
    )
    ticket = ticket_open(
        account=account,
        department=payload.department,
        subject=payload.subject,
        body=payload.body,
        license=lic,
        actor=user,
        ip=client_ip(request),
    )
    return Status(201, _fresh(request, ticket.pk))


Filter = Annotated[str, Printable(32)]


@router.get("/tickets", response=Page[TicketOut], summary="Tickets, newest first")
def list_tickets(
    request: AuthedRequest[User],
    status: Filter | None = None,
    department: Filter | None = None,
    assigned: Filter | None = None,
    account: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    user = request.auth
    if assigned is not None or account is not None:
        require_staff(user, "filter tickets by assignee or account")
    qs = tickets_filtered(
        visible_tickets(user),
        user=user,
        status=status,
        department=department,
        assigned=assigned,
        account=parse_id(account) if account is not None else None,
    )
    return paginate(qs, limit=limit, cursor=cursor, render=lambda t: ticket_out(t, user))


@router.get("/tickets/{ticket_id}", response=TicketOut)
def get_ticket(request: AuthedRequest[User], ticket_id: Id) -> dict:
    return _fresh(request, ticket_id)


@router.post(
    "/tickets/{ticket_id}/messages",
    response={201: MessageOut},
    summary="Write on a ticket (staff: `internal` for a note the customer never sees)",
)
def post_message(request: AuthedRequest[User], ticket_id: Id, payload: MessageIn) -> Status:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    message = ticket_message_add(
        ticket=ticket,
        body=payload.body,
        internal=payload.internal,
        actor=request.auth,
        ip=client_ip(request),
    )
    return Status(201, message_out(message, request.auth))


@router.post(
    "/tickets/{ticket_id}/messages/upload",
    response={201: MessageOut},
    openapi_extra=UPLOAD_DOC,
    summary="Write on a ticket with files (multipart: body, file (up to 3), internal)",
)
def post_message_with_files(request: AuthedRequest[User], ticket_id: Id) -> Status:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "Files are sent as multipart/form-data (the fields body, file and internal), "
            f"not {request.content_type or 'unnamed'}."
        )
    limit_upload(
        request, max_bytes=MAX_ATTACHMENT_BYTES, files=MAX_ATTACHMENTS, what="An attachment"
    )
    files = request.FILES.getlist("file")
    if not files:
        raise ValidationFailed("file: at least one file (multipart field 'file').")
    try:
        body = _body.validate_python(request.POST.get("body", ""))
    except PydanticValidationError as exc:
        raise ValidationFailed(f"body: {exc.errors()[0]['msg']}.") from None
    internal = request.POST.get("internal", "false")
    if internal not in ("true", "false"):
        raise ValidationFailed("internal: true or false.")
    message = ticket_message_add(
        ticket=ticket,
        body=body,
        internal=internal == "true",
        files=files,
        actor=request.auth,
        ip=client_ip(request),
    )
    return Status(201, message_out(message, request.auth))


@router.get(
    "/tickets/{ticket_id}/attachments/{attachment_id}",
    summary="A file of a ticket's message, as an attachment (its side and staff)",
    openapi_extra=FILE_DOC,
)
def get_attachment(request: AuthedRequest[User], ticket_id: Id, attachment_id: Id) -> FileResponse:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    attachment = get_visible(attachments_visible(request.auth, ticket), attachment_id)
    extension = attachment.stored_name.rsplit(".", 1)[-1]
    return file_response(
        stored_path(ATTACHMENT_STORE, attachment.stored_name),
        content_type=attachment.content_type,
        filename=f"ticket-{ticket.pk}-file-{attachment.pk}.{extension}",
    )


@router.post("/tickets/{ticket_id}/assign", response=TicketOut, summary="Staff: assign")
def assign_ticket(request: AuthedRequest[User], ticket_id: Id, payload: AssignIn) -> dict:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    require_staff(request.auth, "assign tickets")
    to = (
        get_visible(User.objects.filter(kind=User.Kind.STAFF), payload.staff)
        if payload.staff is not None
        else None
    )
    ticket_assign(ticket=ticket, to=to, actor=request.auth)
    return _fresh(request, ticket.pk)


@router.post("/tickets/{ticket_id}/close", response=TicketOut, summary="Close the ticket")
def close_ticket(
    request: AuthedRequest[User], ticket_id: Id, payload: CloseIn | None = None
) -> dict:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    ticket_close(ticket=ticket, actor=request.auth, note=payload.note if payload else "")
    return _fresh(request, ticket.pk)


@router.post(
    "/tickets/{ticket_id}/unresolvable",
    response=TicketOut,
    summary="Staff: the licensing problem of this ticket's license cannot be solved "
    "(the refund policy reads it)",
)
def mark_ticket_unresolvable(
    request: AuthedRequest[User], ticket_id: Id, payload: UnresolvableIn
) -> dict:
    ticket = get_visible(visible_tickets(request.auth), ticket_id)
    require_staff(request.auth, "mark problems unresolvable")
    ticket_mark_unresolvable(ticket=ticket, note=payload.note, actor=request.auth)
    return _fresh(request, ticket.pk)


@router.post(
    "/licenses/{license_id}/unresolvable",
    response=LicenseOut,
    summary="Staff: the licensing problem cannot be solved, on the ticket about it "
    "(makes it refundable)",
)
def mark_license_unresolvable(
    request: AuthedRequest[User], license_id: Id, payload: LicenseUnresolvableIn
) -> dict:
    lic = get_visible(visible_licenses(request.auth), license_id)
    require_staff(request.auth, "mark problems unresolvable")
    ticket = get_visible(
        visible_tickets(request.auth).filter(license=lic),
        payload.ticket,
    )
    ticket_mark_unresolvable(ticket=ticket, note=payload.note, actor=request.auth)
    lic.refresh_from_db()
    return license_out(lic)


@router.get(
    "/accounts/{account_id}/support-evidence",
    response=EvidenceOut,
    summary="Staff: the account's throttle hits (rule 13), for judging support_spam",
)
def support_evidence(
    request: AuthedRequest[User], account_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "read support evidence")
    account = account_get_visible(user=request.auth, account_id=account_id)
    page = paginate(throttle_hits(account), limit=limit, cursor=cursor, render=hit_out)
    return {"account": str(account.pk), **throttle_hit_counts(account), **page}
