"""Accounts, credit adjustments and terms."""

from datetime import datetime
from typing import Annotated

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from ninja import Router, Schema, Status
from pydantic import StrictInt

from licensary.accounts.models import TermsAcceptance, User
from licensary.accounts.policy import account_get_visible, accounts_listed, require_staff
from licensary.accounts.services import (
    account_create,
    account_credit_adjust,
    terms_accept,
    terms_accepted_version,
    terms_latest,
    terms_publish,
)
from licensary.core.api import Cursor, Limit, MoneyOut, Page, paginate, parse_id
from licensary.core.errors import NotFound, PermissionDenied
from licensary.core.http import AuthedRequest
from licensary.core.ip import client_ip
from licensary.core.money import Money
from licensary.core.text import Id, Printable, column
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting
from licensary.ledger.services import account_credit

router = Router(tags=["accounts"])


class AccountOut(Schema):
    id: str
    kind: str
    email: str
    status: str
    agent: str | None
    credit: MoneyOut
    identity: str
    terms_accepted: int | None


class AccountIn(Schema):
    kind: Annotated[str, Printable(16)]
    email: Annotated[str, Printable(column(User, "email"))]
    password: Annotated[str, Printable(256)] | None = None
    agent: Id | None = None


class CreditIn(Schema):
    amount: StrictInt  # minor units: `true` or "500" are not amounts
    note: Annotated[str, Printable(column(LedgerTransaction, "memo"), multiline=True)]


class TermsOut(Schema):
    version: int
    published_at: datetime
    text: str


class TermsIn(Schema):
    text: Annotated[str, Printable(100_000, multiline=True)]


class AcceptIn(Schema):
    version: StrictInt


def account_out(user: User) -> dict:
    return {
        "id": str(user.pk),
        "kind": user.kind,
        "email": user.email,
        "status": user.status,
        "agent": str(user.agent_id) if user.agent_id else None,
        # A list annotates both (`with_credit_and_terms`); one account reads them itself.
        "credit": (
            Money(user.credit_total or 0, user.currency)
            if hasattr(user, "credit_total")
            else account_credit(user)
        ).as_dict(),
        "identity": user.identity,
        "terms_accepted": (
            user.terms_version if hasattr(user, "terms_version") else terms_accepted_version(user)
        ),
    }


def with_credit_and_terms(qs: QuerySet[User]) -> QuerySet[User]:
    """Each account's credit and accepted terms version in the one query (no N+1 in lists)."""
    credit = (
        Posting.objects.filter(
            account__owner=OuterRef("pk"),
            account__code=LedgerAccount.Code.CREDIT,
            account__currency=OuterRef("currency"),
        )
        .values("account__owner")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    terms = (
        TermsAcceptance.objects.filter(user=OuterRef("pk"))
        .order_by("-terms__version")
        .values("terms__version")[:1]
    )
    return qs.annotate(credit_total=Subquery(credit), terms_version=Subquery(terms))


@router.get("/account", response=AccountOut, summary="The calling account")
def get_own_account(request: AuthedRequest[User]) -> dict:
    return account_out(request.auth)


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
    agent = None
    if payload.agent is not None:
        agent = User.objects.filter(pk=parse_id(payload.agent), kind=User.Kind.AGENT).first()
        if agent is None:
            raise NotFound("No such agent.")
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
