"""The staff console's support desk: tickets by department and status, each with its thread
(internal notes included), the answer and note forms, assignment, closing, the unresolvable
mark the refund policy reads, and, beside them, the account's support evidence (its throttle
hits, rule 13) with the way to a `support_spam` ban. Every write is the support service the
API calls; a refusal (a closed ticket, a ticket about no license) is the error page of its
code."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.accounts.policy import accounts_listed
from licensary.core.api import get_visible, paginate
from licensary.core.ip import client_ip
from licensary.portal.staff_forms import (
    TicketAssignForm,
    TicketCloseForm,
    TicketFilterForm,
    TicketMessageForm,
    UnresolvableForm,
)
from licensary.portal.staff_views import PAGE_SIZE, staff_page
from licensary.support.models import Ticket
from licensary.support.selectors import (
    throttle_hit_counts,
    throttle_hit_counts_by_account,
    throttle_hits,
    tickets_filtered,
    visible_tickets,
)
from licensary.support.services import (
    ticket_assign,
    ticket_close,
    ticket_mark_unresolvable,
    ticket_message_add,
)

EVIDENCE_SHOWN = 10


@staff_page
def tickets(request: HttpRequest, user: User) -> HttpResponse:
    form = TicketFilterForm(request.GET or None)
    chosen = form.cleaned_data if form.is_bound and form.is_valid() else {}
    qs = tickets_filtered(
        visible_tickets(user).prefetch_related(None).select_related("account", "assigned_to"),
        user=user,
        status=chosen.get("status") or None,
        department=chosen.get("department") or None,
        assigned=None,
        account=None,
    )
    listed = paginate(qs, limit=PAGE_SIZE, cursor=request.GET.get("cursor"), render=lambda t: t)
    hits = throttle_hit_counts_by_account(sorted({t.account_id for t in listed["items"]}))
    rows = [{"ticket": t, "hits": hits.get(t.account_id, 0)} for t in listed["items"]]
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(
        request,
        "portal/staff/tickets.html",
        {
            "form": form,
            "rows": rows,
            "next_cursor": listed["next_cursor"],
            "query": query.urlencode(),
        },
        status=422 if form.is_bound and not form.is_valid() else 200,
    )


def _ticket_page(
    request: HttpRequest,
    user: User,
    ticket: Ticket,
    *,
    forms: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    staff_members = list(accounts_listed(user).filter(kind=User.Kind.STAFF).order_by("email"))
    given = forms or {}
    account = ticket.account
    return render(
        request,
        "portal/staff/ticket.html",
        {
            "ticket": ticket,
            "thread": list(ticket.messages.all()),
            "answer": given.get("answer") or TicketMessageForm(auto_id="answer-%s"),
            "note": given.get("note") or TicketMessageForm(auto_id="note-%s"),
            "assign": given.get("assign")
            or TicketAssignForm(
                auto_id="assign-%s",
                staff_members=staff_members,
                initial={"staff": str(ticket.assigned_to_id or "")},
            ),
            "close": given.get("close") or TicketCloseForm(auto_id="close-%s"),
            "unresolvable": given.get("unresolvable") or UnresolvableForm(auto_id="unres-%s"),
            "evidence": throttle_hit_counts(account),
            "hits": list(throttle_hits(account).order_by("-at", "-pk")[:EVIDENCE_SHOWN]),
            "account": account,
        },
        status=status,
    )


def _ticket(user: User, ticket_id: int) -> Ticket:
    ticket: Ticket = get_visible(visible_tickets(user).select_related("account"), ticket_id)
    return ticket


@staff_page
def ticket_detail(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    return _ticket_page(request, user, _ticket(user, ticket_id))


def _write(request: HttpRequest, user: User, ticket_id: int, *, internal: bool) -> HttpResponse:
    ticket = _ticket(user, ticket_id)
    name = "note" if internal else "answer"
    form = TicketMessageForm(request.POST, auto_id=f"{name}-%s")
    if not form.is_valid():
        return _ticket_page(request, user, ticket, forms={name: form}, status=422)
    ticket_message_add(
        ticket=ticket,
        body=form.cleaned_data["body"],
        actor=user,
        internal=internal,
        ip=client_ip(request),
    )
    messages.success(
        request,
        _("The internal note is kept; the account does not see it.")
        if internal
        else _("The answer is sent; the account is mailed."),
    )
    return redirect("portal:staff-ticket", ticket_id=ticket.pk)


@staff_page
@require_POST
def ticket_answer_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    return _write(request, user, ticket_id, internal=False)


@staff_page
@require_POST
def ticket_note_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    return _write(request, user, ticket_id, internal=True)


@staff_page
@require_POST
def ticket_assign_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = _ticket(user, ticket_id)
    staff_members = list(accounts_listed(user).filter(kind=User.Kind.STAFF).order_by("email"))
    form = TicketAssignForm(request.POST, auto_id="assign-%s", staff_members=staff_members)
    if not form.is_valid():
        return _ticket_page(request, user, ticket, forms={"assign": form}, status=422)
    chosen = form.cleaned_data["staff"]
    to = next((m for m in staff_members if str(m.pk) == chosen), None)
    ticket_assign(ticket=ticket, to=to, actor=user)
    messages.success(
        request,
        _("The ticket is assigned to %(email)s.") % {"email": to.email}
        if to
        else _("The ticket is assigned to nobody."),
    )
    return redirect("portal:staff-ticket", ticket_id=ticket.pk)


@staff_page
@require_POST
def ticket_close_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = _ticket(user, ticket_id)
    form = TicketCloseForm(request.POST, auto_id="close-%s")
    if not form.is_valid():
        return _ticket_page(request, user, ticket, forms={"close": form}, status=422)
    ticket_close(ticket=ticket, actor=user, note=form.cleaned_data["note"])
    messages.success(request, _("The ticket is closed."))
    return redirect("portal:staff-ticket", ticket_id=ticket.pk)


@staff_page
@require_POST
def ticket_unresolvable_view(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = _ticket(user, ticket_id)
    form = UnresolvableForm(request.POST, auto_id="unres-%s")
    if not form.is_valid():
        return _ticket_page(request, user, ticket, forms={"unresolvable": form}, status=422)
    ticket_mark_unresolvable(ticket=ticket, note=form.cleaned_data["note"], actor=user)
    messages.success(
        request,
        _("The license's problem is marked unresolvable; the refund policy now reads it."),
    )
    return redirect("portal:staff-ticket", ticket_id=ticket.pk)
