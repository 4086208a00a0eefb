"""Tickets in the customer portal (rule 13): the account's tickets with their status, opening
one in a department (optionally about one of its licenses), the thread (never staff's internal
notes: the API's selector leaves them out), a reply with up to 3 files, closing it, and a
file's download. The
spam limits' `rate_limited` refusal is explained with when to try again. Reads are the API's
selectors, every change the support service the API calls."""

from datetime import timedelta

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.core.api import get_visible
from licensary.core.errors import DomainError
from licensary.core.ip import client_ip
from licensary.core.uploads import file_response, stored_path
from licensary.licenses.selectors import visible_licenses
from licensary.portal.errors import explained
from licensary.portal.pages import page
from licensary.portal.support_forms import ATTACHMENT_FIELD_OF_CODE, ReplyForm, TicketForm
from licensary.portal.templatetags.portal import moment, number
from licensary.support.models import Ticket
from licensary.support.selectors import attachments_visible, visible_tickets
from licensary.support.services import (
    ATTACHMENT_STORE,
    ticket_close,
    ticket_message_add,
    ticket_open,
)

TICKETS_SHOWN = 100


def rate_limited_words(exc: DomainError) -> str:
    """The spam limit that refused, in the reader's words, with when to try again."""
    limit = number(exc.extra.get("limit", 0))
    try:
        wait = int(exc.headers.get("Retry-After", "3600"))
    except ValueError:
        wait = 3600
    when = moment(timezone.now() + timedelta(seconds=wait))
    if exc.extra.get("kind") == "open_tickets":
        return _(
            "An account may have at most %(limit)s open tickets, and yours has that many. "
            "Write on one of them instead, or wait until staff close one; try again after "
            "%(when)s."
        ) % {"limit": limit, "when": when}
    return _(
        "An account may send at most %(limit)s messages an hour, and yours has. "
        "Nothing was sent; try again after %(when)s."
    ) % {"limit": limit, "when": when}


def _refusal_on_form(form: TicketForm | ReplyForm, exc: DomainError) -> bool:
    """Put the service's refusal on the form (next to the file, or above the form for the
    spam limits); False when the page of its code says it better."""
    field = ATTACHMENT_FIELD_OF_CODE.get(exc.code)
    if field is not None and field in form.fields:
        form.add_error(field, str(explained(exc.code)[1]))
        return True
    if exc.code == "rate_limited":
        form.add_error(None, rate_limited_words(exc))
        return True
    return False


def _license_choices(user: User) -> list[tuple[str, str]]:
    own = visible_licenses(user).filter(account=user).select_related("product").order_by("-pk")
    return [(str(lic.pk), f"{lic.product.name} — {lic.ip}") for lic in own[:200]]


def _list_page(
    request: HttpRequest, user: User, *, form: TicketForm, status: int = 200
) -> HttpResponse:
    tickets = list(visible_tickets(user).order_by("-updated_at", "-pk")[:TICKETS_SHOWN])
    return render(
        request, "portal/tickets/list.html", {"tickets": tickets, "form": form}, status=status
    )


@page
def tickets_list(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the account's tickets, newest activity first, and the form for a new one.
    POST: open it (`POST /api/v1/tickets`)."""
    licenses = _license_choices(user)
    if request.method != "POST":
        return _list_page(request, user, form=TicketForm(licenses=licenses))
    form = TicketForm(request.POST, licenses=licenses)
    if not form.is_valid():
        return _list_page(request, user, form=form, status=422)
    data = form.cleaned_data
    lic = (
        get_visible(visible_licenses(user).filter(account=user), data["license"])
        if data["license"]
        else None
    )
    try:
        ticket = ticket_open(
            account=user,
            department=data["department"],
            subject=data["subject"],
            body=data["body"],
            license=lic,
            actor=user,
            ip=client_ip(request),
        )
    except DomainError as exc:
        if not _refusal_on_form(form, exc):
            raise
        return _list_page(request, user, form=form, status=exc.status)
    messages.success(request, _("Your ticket is open. Staff answer here; you are told by e-mail."))
    return redirect("portal:ticket", ticket_id=ticket.pk)


def _ticket_page(
    request: HttpRequest, user: User, ticket: Ticket, *, form: ReplyForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "portal/tickets/detail.html",
        {
            "ticket": ticket,
            # The selector's prefetch: the messages this reader may see (no internal note).
            "thread": list(ticket.messages.all()),
            "form": form,
        },
        status=status,
    )


@page
def ticket_detail(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = get_visible(visible_tickets(user).select_related("license__product"), ticket_id)
    return _ticket_page(request, user, ticket, form=ReplyForm())


@page
@require_POST
def ticket_reply(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """Write on the ticket, with up to 3 files (`POST /api/v1/tickets/{id}/messages[/upload]`)."""
    ticket = get_visible(visible_tickets(user).select_related("license__product"), ticket_id)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, user, ticket, form=form, status=422)
    try:
        ticket_message_add(
            ticket=ticket,
            body=form.cleaned_data["body"],
            actor=user,
            files=form.cleaned_data["file"],
            ip=client_ip(request),
        )
    except DomainError as exc:
        if not _refusal_on_form(form, exc):
            raise
        return _ticket_page(request, user, ticket, form=form, status=exc.status)
    messages.success(request, _("Your reply is sent."))
    return redirect("portal:ticket", ticket_id=ticket.pk)


@page
@require_POST
def ticket_close_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """The customer closes the ticket: the question is answered (`POST
    /api/v1/tickets/{id}/close`); a later reply opens it again."""
    ticket = get_visible(visible_tickets(user), ticket_id)
    ticket_close(ticket=ticket, actor=user)
    messages.success(request, _("The ticket is closed. Write on it again if you need to."))
    return redirect("portal:ticket", ticket_id=ticket.pk)


@page
def ticket_attachment(
    request: HttpRequest, user: User, ticket_id: int, attachment_id: int
) -> FileResponse:
    """A file of the ticket's thread, downloaded (never one of an internal note)."""
    ticket = get_visible(visible_tickets(user), ticket_id)
    attachment = get_visible(attachments_visible(user, ticket), attachment_id)
    extension = attachment.stored_name.rsplit(".", 1)[-1]
    return file_response(
        stored_path(ATTACHMENT_STORE, attachment.stored_name),
        content_type=attachment.content_type,
        filename=f"ticket-{ticket.pk}-file-{attachment.pk}.{extension}",
    )
