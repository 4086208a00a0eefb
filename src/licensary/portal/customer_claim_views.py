"""Claims and the identity document in the customer portal.

A claim (rule 10): the account that runs the server at an IP claims the (product, IP) another
account's license holds. Its page says plainly how to prove it: the server at that IP sends
the challenge to the claim's proof URL (a curl command line built from PUBLIC_URL); the owner
has 3 days to transfer the license instead; staff review; once approved the claim's order is
the invoice to pay. The identity page (rule 12) shows the account's identity state and takes
its document. Reads are the API's selectors, every change the governance and identity services
the API calls."""

import json
import shlex

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import User
from licensary.accounts.selectors import identity_document_latest
from licensary.catalog.selectors import product_get_by_ref, visible_products
from licensary.core.api import get_visible
from licensary.core.errors import DomainError
from licensary.governance.claims import (
    OWNER_DAYS,
    claim_new_challenge,
    claim_open,
    claim_status,
    may_see_challenge,
    visible_claims,
)
from licensary.governance.models import Claim
from licensary.portal.errors import explained
from licensary.portal.pages import page
from licensary.portal.support_forms import (
    CLAIM_FIELD_OF_CODE,
    DOCUMENT_FIELD_OF_CODE,
    ClaimForm,
    DocumentForm,
)

CLAIMS_SHOWN = 100
OPEN = (Claim.Status.AWAITING_OWNER, Claim.Status.AWAITING_PROOF, Claim.Status.AWAITING_REVIEW)


def _field_error(form: ClaimForm | DocumentForm, exc: DomainError, fields: dict[str, str]) -> bool:
    field = fields.get(exc.code)
    if field is None or field not in form.fields:
        return False
    form.add_error(field, str(explained(exc.code)[1]))
    return True


def _product_choices(user: User) -> list[tuple[str, str]]:
    return [(p.slug, p.name) for p in visible_products(user).filter(active=True).order_by("name")]


def proof_url(claim: Claim) -> str:
    return f"{settings.PUBLIC_URL}/api/v1/claims/{claim.pk}/proof"


def proof_command(claim: Claim) -> str:
    """The command line the claimed server runs to answer the challenge."""
    body = json.dumps({"challenge": f"{claim.pk}.{claim.challenge}"})
    return (
        f"curl -X POST -H 'Content-Type: application/json' -d {shlex.quote(body)} "
        f"{shlex.quote(proof_url(claim))}"
    )


def _claims_page(
    request: HttpRequest, user: User, *, form: ClaimForm, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    claims = visible_claims(user).select_related("product").order_by("-pk")[:CLAIMS_SHOWN]
    rows = [
        {"claim": c, "status": claim_status(c, now), "mine": may_see_challenge(user, c)}
        for c in claims
    ]
    return render(
        request,
        "portal/claims/list.html",
        {"rows": rows, "form": form, "owner_days": OWNER_DAYS},
        status=status,
    )


@page
def claims_list(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the claims by the account and against its licenses, and the form for a new one.
    POST: open it (`POST /api/v1/claims`)."""
    products = _product_choices(user)
    if request.method != "POST":
        return _claims_page(request, user, form=ClaimForm(products=products))
    form = ClaimForm(request.POST, products=products)
    if not form.is_valid():
        return _claims_page(request, user, form=form, status=422)
    try:
        claim = claim_open(
            product=product_get_by_ref(form.cleaned_data["product"]),
            ip=form.cleaned_data["ip"],
            actor=user,
        )
    except DomainError as exc:
        if not _field_error(form, exc, CLAIM_FIELD_OF_CODE):
            raise
        return _claims_page(request, user, form=form, status=exc.status)
    messages.success(request, _("Your claim is open. Prove it from the server, as shown here."))
    return redirect("portal:claim", claim_id=claim.pk)


@page
def claim_detail(request: HttpRequest, user: User, claim_id: int) -> HttpResponse:
    claim = get_visible(
        visible_claims(user).select_related("product", "claimant", "order"), claim_id
    )
    now = timezone.now()
    status = claim_status(claim, now)
    mine = may_see_challenge(user, claim)
    prove = mine and claim.proved_at is None and status in OPEN
    return render(
        request,
        "portal/claims/detail.html",
        {
            "claim": claim,
            "status": status,
            "mine": mine,
            "prove": prove,
            "expired": prove and now >= claim.challenge_expires_at,
            "proof_url": proof_url(claim) if prove else "",
            "command": proof_command(claim) if prove else "",
            "owner_days": OWNER_DAYS,
            "invoice_id": claim.order.invoice_id if mine and claim.order else None,
        },
    )


@page
@require_POST
def claim_challenge(request: HttpRequest, user: User, claim_id: int) -> HttpResponse:
    """A new challenge for an open claim not yet proved (the old one expired, or leaked)."""
    claim = get_visible(visible_claims(user).select_related("claimant"), claim_id)
    claim_new_challenge(claim=claim, actor=user)
    messages.success(request, _("Here is a new challenge; the old one no longer works."))
    return redirect("portal:claim", claim_id=claim.pk)


def _identity_page(
    request: HttpRequest, user: User, *, form: DocumentForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "portal/account/identity.html",
        {"form": form, "document": identity_document_latest(user)},
        status=status,
    )


@page
def identity(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the account's identity state (unverified, pending, verified, rejected with staff's
    reason). POST: send the document (`POST /api/v1/identity`)."""
    if request.method != "POST":
        return _identity_page(request, user, form=DocumentForm())
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _identity_page(request, user, form=form, status=422)
    try:
        identity_submit(account=user, file=form.cleaned_data["document"], actor=user)
    except DomainError as exc:
        if not _field_error(form, exc, DOCUMENT_FIELD_OF_CODE):
            raise
        return _identity_page(request, user, form=form, status=exc.status)
    messages.success(request, _("Your document was sent. Staff check it and tell you."))
    return redirect("portal:identity")
