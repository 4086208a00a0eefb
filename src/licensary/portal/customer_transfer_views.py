"""Transfers in the customer portal (rule 10): the owner gives a license to another account
by its e-mail (a transfers ticket is opened), the recipient accepts or declines it within its
7 days, the owner may cancel it meanwhile. Reads are the API's selector, every change the
governance service the API calls."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.core.api import get_visible
from licensary.core.errors import DomainError
from licensary.governance.models import Transfer
from licensary.governance.transfers import (
    may_decide,
    recipient_find,
    transfer_accept,
    transfer_cancel,
    transfer_decline,
    transfer_request,
    transfer_status,
    visible_transfers,
)
from licensary.licenses.models import License
from licensary.portal.errors import explained
from licensary.portal.forms import TransferForm
from licensary.portal.pages import page

# A refusal of the request that is about the recipient typed in.
TRANSFER_FIELD_OF_CODE = {
    "not_found": "email",
    "validation_error": "email",
    "transfer_pending": "email",
}


def _rows(user: User, transfers: list[Transfer]) -> list[dict[str, object]]:
    now = timezone.now()
    rows = []
    for transfer in transfers:
        status, reason = transfer_status(transfer, now)
        rows.append(
            {
                "transfer": transfer,
                "status": status,
                "reason": reason,
                "incoming": transfer.to_account_id == user.pk or may_decide(user, transfer),
                "pending": status == Transfer.Status.PENDING,
            }
        )
    return rows


def license_transfer_context(
    user: User, lic: License, *, form: TransferForm | None = None
) -> dict[str, object]:
    """What the license page shows of transfers: its transfers, and the form to start one."""
    transfers = list(visible_transfers(user).filter(license=lic).order_by("-pk")[:10])
    rows = _rows(user, transfers)
    return {
        "transfers": rows,
        "transfer_pending": any(row["pending"] for row in rows),
        "transfer_form": form or TransferForm(),
    }


def license_transfer_start(
    request: HttpRequest, user: User, lic: License
) -> tuple[TransferForm, int] | None:
    """Start the transfer the form asks for: None when it is asked for, else the form with
    its refusal next to the e-mail and the answer's status."""
    form = TransferForm(request.POST)
    if not form.is_valid():
        return form, 422
    try:
        recipient = recipient_find(form.cleaned_data["email"])
        transfer_request(license=lic, to_account=recipient, actor=user)
    except DomainError as exc:
        field = TRANSFER_FIELD_OF_CODE.get(exc.code)
        if field is None:
            raise
        form.add_error(field, str(explained(exc.code)[1]))
        return form, exc.status
    messages.success(
        request, _("Transfer asked for. The recipient has 7 days to accept it; a ticket is open.")
    )
    return None


@page
def transfers_list(request: HttpRequest, user: User) -> HttpResponse:
    """Transfers to and from the account: incoming ones to accept or decline first."""
    transfers = list(
        visible_transfers(user).select_related("license__product").order_by("-pk")[:100]
    )
    rows = _rows(user, transfers)
    return render(
        request,
        "portal/transfers/list.html",
        {
            "incoming": [r for r in rows if r["incoming"]],
            "outgoing": [r for r in rows if not r["incoming"]],
        },
    )


def _decide(request: HttpRequest, user: User, transfer_id: int, verb: str) -> HttpResponse:
    transfer = get_visible(visible_transfers(user), transfer_id)
    if verb == "accept":
        transfer_accept(transfer=transfer, actor=user)
        messages.success(request, _("Transfer accepted: the license is yours now."))
    elif verb == "decline":
        transfer_decline(transfer=transfer, actor=user)
        messages.success(request, _("Transfer declined."))
    else:
        transfer_cancel(transfer=transfer, actor=user)
        messages.success(request, _("Transfer canceled."))
    return redirect("portal:transfers")


@page
@require_POST
def transfer_accept_view(request: HttpRequest, user: User, transfer_id: int) -> HttpResponse:
    return _decide(request, user, transfer_id, "accept")


@page
@require_POST
def transfer_decline_view(request: HttpRequest, user: User, transfer_id: int) -> HttpResponse:
    return _decide(request, user, transfer_id, "decline")


@page
@require_POST
def transfer_cancel_view(request: HttpRequest, user: User, transfer_id: int) -> HttpResponse:
    return _decide(request, user, transfer_id, "cancel")
