"""What the accounts API takes and answers: its schemas and the renderer of an account."""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import StrictInt

from licensary.accounts.models import User
from licensary.accounts.services import terms_accepted_version
from licensary.core.api import MoneyOut
from licensary.core.money import Money
from licensary.core.text import Id, Printable, column
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
