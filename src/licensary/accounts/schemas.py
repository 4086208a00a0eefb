"""What the accounts API takes and answers: its schemas and the renderer of an account."""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictInt

from licensary.accounts.models import ApiToken, User
from licensary.accounts.scopes import ALL_SCOPES
from licensary.accounts.selectors import history_actor
from licensary.accounts.services import terms_accepted_version
from licensary.audit.models import AuditEntry
from licensary.core.api import MoneyOut
from licensary.core.money import Money
from licensary.core.text import Id, Instant, Printable, column
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit


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


class WhiteLabelIn(Schema):
    name: Annotated[str, Printable(column(User, "white_label_name"))]


class WhiteLabelOut(Schema):
    name: str


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


class TokenIn(Schema):
    name: Annotated[str, Printable(column(ApiToken, "name"))] = ""
    scopes: Annotated[list[Annotated[str, Printable(16)]], Field(max_length=len(ALL_SCOPES))]
    expires_at: Instant | None = None


class TokenOut(Schema):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str  # shown this once


def token_out(token: ApiToken) -> dict:
    return {
        "id": str(token.pk),
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(token.scopes),
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


class AccountHistoryOut(Schema):
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict
    after: dict
    reason: str


def history_out(entry: AuditEntry, viewer: User) -> dict:
    return {
        "id": str(entry.pk),
        "at": entry.created_at,
        "actor": history_actor(entry, viewer),
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }
