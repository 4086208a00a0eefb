"""The staff console's desks: the review queue, receipts to confirm, identity checks,
claims, refunds and bans (the overview is `staff_dashboard_views`, tickets
`staff_support_views`, terms, suppliers and dead jobs `staff_platform_views`). Staff
only: every page asks `require_staff` first, so another account meets the permission page
whatever id it types. Every read is the API's selector, every decision the API's service; no
view writes a model."""

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from licensary.accounts.identity import identity_reject, identity_verify
from licensary.accounts.models import IdentityDocument, User
from licensary.accounts.policy import account_get_visible, accounts_listed, require_staff
from licensary.billing.models import Receipt, Refund
from licensary.billing.receipts import receipt_confirm, receipt_reject
from licensary.billing.refunds import refund_approve, refund_reject
from licensary.billing.selectors import receipts_visible_to, visible_refunds
from licensary.core.api import get_visible, paginate
from licensary.governance.bans import account_ban, ban_preview
from licensary.governance.claims import claim_approve, claim_reject, claim_status, visible_claims
from licensary.orders.delivery import order_retry
from licensary.orders.models import Order
from licensary.orders.schemas import held_order_out
from licensary.orders.selectors import held_orders, visible_orders
from licensary.orders.services import order_approve, order_reject
from licensary.portal.pages import page, staff_needs_code
from licensary.portal.staff_forms import (
    AccountLookupForm,
    BanForm,
    OrderApproveForm,
    OrderRejectForm,
    ReasonForm,
    ReceiptConfirmForm,
    RefundApproveForm,
    RefundRejectForm,
)

P = ParamSpec("P")
StaffView = Callable[Concatenate[HttpRequest, User, P], HttpResponse]

PAGE_SIZE = 50


def staff_page(view: StaffView[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """A portal page for staff accounts only; any other account gets `permission_denied`."""

    @wraps(view)
    def staff_only(request: HttpRequest, user: User, *args: P.args, **kwargs: P.kwargs) -> Any:
        require_staff(user, "use the staff console")
        if staff_needs_code(request, user):
            target = reverse("portal:sign-in-code")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return view(request, user, *args, **kwargs)

    return page(staff_only)


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


def _ids(action: str, pk: int) -> str:
    """Each row's forms get their own element ids, so every label names its own control."""
    return f"{action}-{pk}-%s"


def _reject_form(rejecting: tuple[int, ReasonForm] | None, pk: int) -> ReasonForm:
    """The refused form again for the row it was sent from; a fresh one for the others."""
    if rejecting is not None and rejecting[0] == pk:
        return rejecting[1]
    return ReasonForm(auto_id=_ids("reject", pk))


def _target_hours() -> int:
    return int(settings.LICENSARY["REVIEW_TARGET_HOURS"])


# Review queue ------------------------------------------------------------------------------


def _queue_page(
    request: HttpRequest,
    user: User,
    *,
    forms_of: dict[int, dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    listed = paginate(
        held_orders().select_related("account", "invoice"),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda o: {
            "order": o,
            "out": (out := held_order_out(o)),
            "hours": math.floor(out["age_hours"]),
            **(forms_of or {}).get(
                o.pk,
                {
                    "approve": OrderApproveForm(auto_id=_ids("approve", o.pk)),
                    "reject": OrderRejectForm(auto_id=_ids("reject", o.pk)),
                },
            ),
        },
        order=("held_at", "pk"),
    )
    return render(
        request,
        "portal/staff/review.html",
        {
            "rows": listed["items"],
            "next_cursor": listed["next_cursor"],
            "target_hours": _target_hours(),
        },
        status=status,
    )


@staff_page
def review_queue(request: HttpRequest, user: User) -> HttpResponse:
    return _queue_page(request, user)


@staff_page
@require_POST
def order_retry_view(request: HttpRequest, user: User, order_id: int) -> HttpResponse:
    order = get_visible(visible_orders(user), order_id)
    done = order_retry(order=order, actor=user)
    if done.status == Order.Status.ON_HOLD:
        messages.warning(request, _("The delivery failed again; the order stays on hold."))
    else:
        messages.success(request, _("The order was delivered."))
    return redirect("portal:staff-review")


@staff_page
@require_POST
def order_approve_view(request: HttpRequest, user: User, order_id: int) -> HttpResponse:
    order = get_visible(visible_orders(user), order_id)
    form = OrderApproveForm(request.POST, auto_id=_ids("approve", order.pk))
    if not form.is_valid():
        return _queue_page(
            request,
            user,
            forms_of={
                order.pk: {
                    "approve": form,
                    "reject": OrderRejectForm(auto_id=_ids("reject", order.pk)),
                }
            },
            status=422,
        )
    order_approve(order=order, actor=user, note=form.cleaned_data["note"])
    messages.success(request, _("The order was approved and delivered."))
    return redirect("portal:staff-review")


@staff_page
@require_POST
def order_reject_view(request: HttpRequest, user: User, order_id: int) -> HttpResponse:
    order = get_visible(visible_orders(user), order_id)
    form = OrderRejectForm(request.POST, auto_id=_ids("reject", order.pk))
    if not form.is_valid():
        return _queue_page(
            request,
            user,
            forms_of={
                order.pk: {
                    "approve": OrderApproveForm(auto_id=_ids("approve", order.pk)),
                    "reject": form,
                }
            },
            status=422,
        )
    order_reject(
        order=order,
        actor=user,
        note=form.cleaned_data["note"],
        destination=form.cleaned_data["destination"],
    )
    messages.success(request, _("The order was rejected and its payment refunded in full."))
    return redirect("portal:staff-review")


# Receipts ----------------------------------------------------------------------------------


def _receipts_page(
    request: HttpRequest, user: User, *, rejecting: tuple[int, ReasonForm] | None = None
) -> HttpResponse:
    listed = paginate(
        receipts_visible_to(user)
        .filter(status=Receipt.Status.PENDING)
        .select_related("invoice__account"),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda r: {
            "receipt": r,
            "is_image": r.content_type.startswith("image/"),
            "confirm": ReceiptConfirmForm(auto_id=_ids("confirm", r.pk)),
            "reject": _reject_form(rejecting, r.pk),
        },
        order=("pk",),
    )
    return render(
        request,
        "portal/staff/receipts.html",
        {"rows": listed["items"], "next_cursor": listed["next_cursor"]},
        status=422 if rejecting else 200,
    )


@staff_page
def receipts(request: HttpRequest, user: User) -> HttpResponse:
    return _receipts_page(request, user)


@staff_page
@require_POST
def receipt_confirm_view(request: HttpRequest, user: User, receipt_id: int) -> HttpResponse:
    receipt = get_visible(receipts_visible_to(user), receipt_id)
    form = ReceiptConfirmForm(request.POST)
    to_credit = form.cleaned_data["to_credit"] if form.is_valid() else False
    receipt_confirm(receipt=receipt, actor=user, to_credit=to_credit)
    messages.success(request, _("The receipt was confirmed and the money recorded."))
    return redirect("portal:staff-receipts")


@staff_page
@require_POST
def receipt_reject_view(request: HttpRequest, user: User, receipt_id: int) -> HttpResponse:
    receipt = get_visible(receipts_visible_to(user), receipt_id)
    form = ReasonForm(request.POST, auto_id=_ids("reject", receipt.pk))
    if not form.is_valid():
        return _receipts_page(request, user, rejecting=(receipt.pk, form))
    receipt_reject(receipt=receipt, actor=user, reason=form.cleaned_data["reason"])
    messages.success(request, _("The receipt was rejected; the account is told why."))
    return redirect("portal:staff-receipts")


# Identity checks ---------------------------------------------------------------------------


def _identity_page(
    request: HttpRequest, user: User, *, rejecting: tuple[int, ReasonForm] | None = None
) -> HttpResponse:
    pending = accounts_listed(user).filter(identity=User.Identity.PENDING)
    listed = paginate(pending, limit=PAGE_SIZE, cursor=_cursor(request), render=lambda a: a)
    documents = {
        d.account_id: d
        for d in IdentityDocument.objects.filter(
            account__in=[a.pk for a in listed["items"]], status=IdentityDocument.Status.PENDING
        )
    }
    rows = [
        {
            "account": account,
            "document": documents.get(account.pk),
            "is_image": bool(
                documents.get(account.pk)
                and documents[account.pk].content_type.startswith("image/")
            ),
            "reject": _reject_form(rejecting, account.pk),
        }
        for account in listed["items"]
    ]
    return render(
        request,
        "portal/staff/identity.html",
        {"rows": rows, "next_cursor": listed["next_cursor"]},
        status=422 if rejecting else 200,
    )


@staff_page
def identity_checks(request: HttpRequest, user: User) -> HttpResponse:
    return _identity_page(request, user)


@staff_page
@require_POST
def identity_verify_view(request: HttpRequest, user: User, account_id: int) -> HttpResponse:
    account = account_get_visible(user=user, account_id=account_id)
    identity_verify(account=account, actor=user)
    messages.success(request, _("The identity was verified."))
    return redirect("portal:staff-identity")


@staff_page
@require_POST
def identity_reject_view(request: HttpRequest, user: User, account_id: int) -> HttpResponse:
    account = account_get_visible(user=user, account_id=account_id)
    form = ReasonForm(request.POST, auto_id=_ids("reject", account.pk))
    if not form.is_valid():
        return _identity_page(request, user, rejecting=(account.pk, form))
    identity_reject(account=account, actor=user, reason=form.cleaned_data["reason"])
    messages.success(request, _("The identity was rejected; the account is told why."))
    return redirect("portal:staff-identity")


# Claims ------------------------------------------------------------------------------------


def _claims_page(
    request: HttpRequest, user: User, *, rejecting: tuple[int, ReasonForm] | None = None
) -> HttpResponse:
    now = timezone.now()
    listed = paginate(
        visible_claims(user).select_related("claimant", "owner", "product"),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda c: {
            "claim": c,
            "status": claim_status(c, now),
            "reject": _reject_form(rejecting, c.pk),
        },
    )
    return render(
        request,
        "portal/staff/claims.html",
        {"rows": listed["items"], "next_cursor": listed["next_cursor"]},
        status=422 if rejecting else 200,
    )


@staff_page
def claims(request: HttpRequest, user: User) -> HttpResponse:
    return _claims_page(request, user)


@staff_page
@require_POST
def claim_approve_view(request: HttpRequest, user: User, claim_id: int) -> HttpResponse:
    claim = get_visible(visible_claims(user), claim_id)
    claim_approve(claim=claim, actor=user)
    messages.success(
        request, _("The claim was approved: the old license is canceled and a new order made.")
    )
    return redirect("portal:staff-claims")


@staff_page
@require_POST
def claim_reject_view(request: HttpRequest, user: User, claim_id: int) -> HttpResponse:
    claim = get_visible(visible_claims(user), claim_id)
    form = ReasonForm(request.POST, auto_id=_ids("reject", claim.pk))
    if not form.is_valid():
        return _claims_page(request, user, rejecting=(claim.pk, form))
    claim_reject(claim=claim, reason=form.cleaned_data["reason"], actor=user)
    messages.success(request, _("The claim was rejected; the claimant is told why."))
    return redirect("portal:staff-claims")


# Refunds -----------------------------------------------------------------------------------


def _refunds_page(
    request: HttpRequest,
    user: User,
    *,
    forms_of: dict[int, dict[str, Any]] | None = None,
) -> HttpResponse:
    listed = paginate(
        visible_refunds(user)
        .filter(status=Refund.Status.REQUESTED)
        .select_related("account", "invoice"),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda r: {
            "refund": r,
            **(forms_of or {}).get(
                r.pk,
                {
                    "approve": RefundApproveForm(auto_id=_ids("approve", r.pk)),
                    "reject": RefundRejectForm(auto_id=_ids("reject", r.pk)),
                },
            ),
        },
        order=("pk",),
    )
    return render(
        request,
        "portal/staff/refunds.html",
        {"rows": listed["items"], "next_cursor": listed["next_cursor"]},
        status=422 if forms_of else 200,
    )


@staff_page
def refunds(request: HttpRequest, user: User) -> HttpResponse:
    return _refunds_page(request, user)


@staff_page
@require_POST
def refund_approve_view(request: HttpRequest, user: User, refund_id: int) -> HttpResponse:
    refund = get_visible(visible_refunds(user), refund_id)
    form = RefundApproveForm(request.POST, auto_id=_ids("approve", refund.pk))
    if not form.is_valid():
        other = RefundRejectForm(auto_id=_ids("reject", refund.pk))
        forms = {refund.pk: {"approve": form, "reject": other}}
        return _refunds_page(request, user, forms_of=forms)
    refund_approve(
        refund=refund,
        actor=user,
        destination=form.cleaned_data["destination"],
        note=form.cleaned_data["note"],
    )
    messages.success(request, _("The refund was approved."))
    return redirect("portal:staff-refunds")


@staff_page
@require_POST
def refund_reject_view(request: HttpRequest, user: User, refund_id: int) -> HttpResponse:
    refund = get_visible(visible_refunds(user), refund_id)
    form = RefundRejectForm(request.POST, auto_id=_ids("reject", refund.pk))
    if not form.is_valid():
        other = RefundApproveForm(auto_id=_ids("approve", refund.pk))
        forms = {refund.pk: {"approve": other, "reject": form}}
        return _refunds_page(request, user, forms_of=forms)
    refund_reject(refund=refund, actor=user, note=form.cleaned_data["note"])
    messages.success(request, _("The refund was rejected; the account is told why."))
    return redirect("portal:staff-refunds")


# Bans --------------------------------------------------------------------------------------


@staff_page
def bans(request: HttpRequest, user: User) -> HttpResponse:
    form = AccountLookupForm(request.GET or None)
    status = 200
    if form.is_bound:
        status = 422
        if form.is_valid():
            email = form.cleaned_data["email"]
            found = accounts_listed(user).filter(email__iexact=email).first()
            if found is not None:
                return redirect("portal:staff-ban", account_id=found.pk)
            form.add_error("email", _("No account has this email."))
    banned = accounts_listed(user).filter(status=User.Status.BANNED).order_by("-banned_at", "-pk")
    return render(
        request,
        "portal/staff/bans.html",
        {"form": form, "banned": list(banned[:PAGE_SIZE])},
        status=status,
    )


@staff_page
def ban_account(request: HttpRequest, user: User, account_id: int) -> HttpResponse:
    """GET: the ban form. POST: the confirmation page, saying what the ban will do; nothing
    changes until staff confirm it (`ban_confirm`)."""
    account = account_get_visible(user=user, account_id=account_id)
    is_agent = account.kind == User.Kind.AGENT
    # A desk may send staff here with the reason chosen (the support desk: `support_spam`).
    suggested = request.GET.get("reason")
    initial = {"reason": suggested} if suggested in User.BanReason.values else {}
    form = BanForm(request.POST or None, is_agent=is_agent, initial=initial)
    if request.method == "POST" and form.is_valid():
        cascade = bool(form.cleaned_data.get("cascade"))
        return render(
            request,
            "portal/staff/ban_confirm.html",
            {
                "account": account,
                "form": form,
                "reason": form.cleaned_data["reason"],
                "note": form.cleaned_data["note"],
                "cascade": cascade,
                "effects": ban_preview(account, cascade=cascade),
            },
        )
    return render(
        request,
        "portal/staff/ban.html",
        {"account": account, "form": form, "is_agent": is_agent},
        status=422 if request.method == "POST" else 200,
    )


@staff_page
@require_POST
def ban_confirm(request: HttpRequest, user: User, account_id: int) -> HttpResponse:
    account = account_get_visible(user=user, account_id=account_id)
    form = BanForm(request.POST, is_agent=account.kind == User.Kind.AGENT)
    if not form.is_valid():
        if request.htmx:  # type: ignore[attr-defined]  # the confirmation's fields were changed
            return HttpResponseClientRedirect(reverse("portal:staff-ban", args=[account.pk]))
        return render(
            request,
            "portal/staff/ban.html",
            {"account": account, "form": form, "is_agent": account.kind == User.Kind.AGENT},
            status=422,
        )
    account_ban(
        account=account,
        actor=user,
        reason=form.cleaned_data["reason"],
        note=form.cleaned_data["note"],
        cascade=bool(form.cleaned_data.get("cascade")),
    )
    messages.success(request, _("The account is banned."))
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponseClientRedirect(reverse("portal:staff-bans"))
    return redirect("portal:staff-bans")
