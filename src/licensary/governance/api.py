"""Governance over HTTP: bans (staff), transfers and claims."""

from collections.abc import Callable

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, require_staff
from licensary.accounts.schemas import AccountOut, account_out
from licensary.catalog.selectors import product_get_by_ref
from licensary.core.api import Cursor, Limit, Page, get_visible, paginate
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.ip import client_ip
from licensary.core.text import Id
from licensary.governance.bans import account_ban
from licensary.governance.claims import (
    claim_approve,
    claim_new_challenge,
    claim_open,
    claim_prove,
    claim_reject,
    claim_status,
    visible_claims,
)
from licensary.governance.models import Claim, Transfer
from licensary.governance.schemas import (
    BanIn,
    ClaimIn,
    ClaimOut,
    ProofIn,
    ProofOut,
    RejectClaimIn,
    TransferIn,
    TransferOut,
    claim_out,
    transfer_out,
)
from licensary.governance.transfers import (
    recipient_find,
    transfer_accept,
    transfer_cancel,
    transfer_decline,
    transfer_request,
    visible_transfers,
)
from licensary.licenses.selectors import visible_licenses

router = Router(tags=["governance"])


@router.post(
    "/accounts/{account_id}/ban",
    response=AccountOut,
    summary="Staff: ban an account (rule 6): licenses canceled, unpaid invoices void, "
    "tokens and sessions ended, nothing refunded",
)
def ban_account(request: AuthedRequest[User], account_id: Id, payload: BanIn) -> dict:
    require_staff(request.auth, "ban accounts")
    account = account_get_visible(user=request.auth, account_id=account_id)
    banned = account_ban(
        account=account,
        actor=request.auth,
        reason=payload.reason,
        note=payload.note,
        cascade=payload.cascade,
    )
    return account_out(banned)


@router.post(
    "/transfers",
    response={201: TransferOut},
    summary="Ask to move a license to another account (the recipient accepts)",
)
@idempotent
def create_transfer(request: AuthedRequest[User], payload: TransferIn) -> Status:
    lic = get_visible(visible_licenses(request.auth), payload.license)
    recipient = recipient_find(payload.to_account)
    transfer = transfer_request(license=lic, to_account=recipient, actor=request.auth)
    return Status(201, transfer_out(transfer, timezone.now()))


@router.get("/transfers", response=Page[TransferOut], summary="Transfers from or to the caller")
def list_transfers(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    now = timezone.now()
    return paginate(
        visible_transfers(request.auth),
        limit=limit,
        cursor=cursor,
        render=lambda t: transfer_out(t, now),
    )


@router.get("/transfers/{transfer_id}", response=TransferOut)
def get_transfer(request: AuthedRequest[User], transfer_id: Id) -> dict:
    return transfer_out(get_visible(visible_transfers(request.auth), transfer_id), timezone.now())


def _transfer_action(
    request: AuthedRequest[User], transfer_id: str, action: Callable[..., Transfer]
) -> dict:
    transfer = get_visible(visible_transfers(request.auth), transfer_id)
    action(transfer=transfer, actor=request.auth)
    return get_transfer(request, transfer_id)


@router.post("/transfers/{transfer_id}/accept", response=TransferOut, summary="Recipient")
def accept_transfer(request: AuthedRequest[User], transfer_id: Id) -> dict:
    return _transfer_action(request, transfer_id, transfer_accept)


@router.post("/transfers/{transfer_id}/decline", response=TransferOut, summary="Recipient")
def decline_transfer(request: AuthedRequest[User], transfer_id: Id) -> dict:
    return _transfer_action(request, transfer_id, transfer_decline)


@router.post("/transfers/{transfer_id}/cancel", response=TransferOut, summary="Owner")
def cancel_transfer(request: AuthedRequest[User], transfer_id: Id) -> dict:
    return _transfer_action(request, transfer_id, transfer_cancel)


@router.post("/claims", response={201: ClaimOut}, summary="Claim a product on an IP you run")
def create_claim(request: AuthedRequest[User], payload: ClaimIn) -> Status:
    user = request.auth
    account = None
    if payload.account is not None:
        account = account_get_visible(user=user, account_id=payload.account)
    claim = claim_open(
        product=product_get_by_ref(payload.product), ip=payload.ip, actor=user, account=account
    )
    return Status(201, _claim(request, claim.pk))


def _claim(request: AuthedRequest[User], claim_id: object) -> dict:
    claim = get_visible(visible_claims(request.auth).select_related("claimant"), claim_id)
    return claim_out(claim, request.auth, timezone.now())


@router.get("/claims", response=Page[ClaimOut], summary="Claims by or against the caller")
def list_claims(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    user, now = request.auth, timezone.now()
    return paginate(
        visible_claims(user).select_related("claimant"),
        limit=limit,
        cursor=cursor,
        render=lambda c: claim_out(c, user, now),
    )


@router.get("/claims/{claim_id}", response=ClaimOut)
def get_claim(request: AuthedRequest[User], claim_id: Id) -> dict:
    return _claim(request, claim_id)


@router.post(
    "/claims/{claim_id}/proof",
    response=ProofOut,
    auth=None,
    summary="From the claimed server itself: answer the claim's challenge (no token)",
)
def prove_claim(request: HttpRequest, claim_id: Id, payload: ProofIn) -> dict:
    claim = get_visible(Claim.objects.all(), claim_id)
    proved = claim_prove(claim=claim, challenge=payload.challenge, caller_ip=client_ip(request))
    return {"id": str(proved.pk), "status": claim_status(proved, timezone.now())}


@router.post("/claims/{claim_id}/challenge", response=ClaimOut, summary="A new challenge")
def renew_challenge(request: AuthedRequest[User], claim_id: Id) -> dict:
    claim = get_visible(visible_claims(request.auth), claim_id)
    claim_new_challenge(claim=claim, actor=request.auth)
    return _claim(request, claim_id)


@router.post("/claims/{claim_id}/approve", response=ClaimOut, summary="Staff: approve")
def approve_claim(request: AuthedRequest[User], claim_id: Id) -> dict:
    claim = get_visible(visible_claims(request.auth), claim_id)
    claim_approve(claim=claim, actor=request.auth)
    return _claim(request, claim_id)


@router.post("/claims/{claim_id}/reject", response=ClaimOut, summary="Staff: reject")
def reject_claim(request: AuthedRequest[User], claim_id: Id, payload: RejectClaimIn) -> dict:
    claim = get_visible(visible_claims(request.auth), claim_id)
    claim_reject(claim=claim, reason=payload.reason, actor=request.auth)
    return _claim(request, claim_id)
