"""Accounts, credit adjustments and terms."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, accounts_listed, require_staff
from licensary.accounts.schemas import (
    AcceptIn,
    AccountHistoryOut,
    AccountIn,
    AccountOut,
    CreditIn,
    TermsIn,
    TermsOut,
    WhiteLabelIn,
    WhiteLabelOut,
    account_out,
    history_out,
)
from licensary.accounts.selectors import (
    account_history_entries,
    agent_get,
    with_credit_and_terms,
)
from licensary.accounts.services import (
    account_create,
    account_credit_adjust,
    account_white_label_set,
    terms_accept,
    terms_latest,
    terms_publish,
)
from licensary.core.api import Cursor, Limit, Page, paginate
from licensary.core.errors import NotFound, PermissionDenied
from licensary.core.http import AuthedRequest
from licensary.core.ip import client_ip
from licensary.core.text import Id

router = Router(tags=["accounts"])


@router.get("/account", response=AccountOut, summary="The calling account")
def get_own_account(request: AuthedRequest[User]) -> dict:
    return account_out(request.auth)


@router.post(
    "/account/white-label",
    response=WhiteLabelOut,
    summary="Agents: the name your customers' mail is sent and signed under (blank: ours)",
)
def set_white_label(request: AuthedRequest[User], payload: WhiteLabelIn) -> dict:
    agent = account_white_label_set(account=request.auth, name=payload.name, actor=request.auth)
    return {"name": agent.white_label_name}


@router.get("/accounts", response=Page[AccountOut])
def list_accounts(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    user = request.auth
    if user.kind == User.Kind.CUSTOMER:
        raise PermissionDenied("Customers see only their own account (GET /api/v1/account).")
    qs = accounts_listed(user)
    return paginate(with_credit_and_terms(qs), limit=limit, cursor=cursor, render=account_out)


@router.post("/accounts", response={201: AccountOut})
def create_account(request: AuthedRequest[User], payload: AccountIn) -> Status:
    agent = agent_get(payload.agent) if payload.agent is not None else None
    user = account_create(
        actor=request.auth,
        kind=payload.kind,
        email=payload.email,
        password=payload.password,
        agent=agent,
    )
    return Status(201, account_out(user))


@router.get("/accounts/{account_id}", response=AccountOut)
def get_account(request: AuthedRequest[User], account_id: Id) -> dict:
    return account_out(account_get_visible(user=request.auth, account_id=account_id))


@router.post(
    "/accounts/{account_id}/credit",
    response=AccountOut,
    summary="Staff: adjust an account's credit through the ledger",
)
def adjust_credit(request: AuthedRequest[User], account_id: Id, payload: CreditIn) -> dict:
    require_staff(request.auth, "adjust credit")
    account = account_get_visible(user=request.auth, account_id=account_id)
    account_credit_adjust(
        account=account, amount=payload.amount, note=payload.note, actor=request.auth
    )
    return account_out(account)


@router.get("/terms", response=TermsOut, auth=None, summary="The latest terms")
def get_terms(request: AuthedRequest[User]) -> TermsOut:
    terms = terms_latest()
    if terms is None:
        raise NotFound("No terms have been published yet.")
    return TermsOut(version=terms.version, published_at=terms.published_at, text=terms.text)


@router.post("/terms", response={201: TermsOut}, summary="Staff: publish a new version")
def publish_terms(request: AuthedRequest[User], payload: TermsIn) -> Status:
    terms = terms_publish(text=payload.text, actor=request.auth)
    return Status(
        201, TermsOut(version=terms.version, published_at=terms.published_at, text=terms.text)
    )


@router.post("/terms/accept", response=AccountOut)
def accept_terms(request: AuthedRequest[User], payload: AcceptIn) -> dict:
    terms_accept(user=request.auth, version=payload.version, ip=client_ip(request))
    return account_out(request.auth)


__all__ = ["router"]


@router.get(
    "/account/history",
    response=Page[AccountHistoryOut],
    summary="Every audit entry about the calling account's objects, newest first",
)
def own_history(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    user = request.auth
    return paginate(
        account_history_entries(user),
        limit=limit,
        cursor=cursor,
        render=lambda e: history_out(e, user),
    )


@router.get(
    "/accounts/{account_id}/history",
    response=Page[AccountHistoryOut],
    summary="An account's audit history (staff; an agent for its customers)",
)
def account_history(
    request: AuthedRequest[User], account_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    user = request.auth
    account = account_get_visible(user=user, account_id=account_id)
    return paginate(
        account_history_entries(account),
        limit=limit,
        cursor=cursor,
        render=lambda e: history_out(e, user),
    )
