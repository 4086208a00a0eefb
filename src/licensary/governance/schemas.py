"""What the governance API takes and answers: bans, transfers, claims."""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import StrictBool

from licensary.accounts.models import User
from licensary.core.text import Id, Printable
from licensary.governance.claims import claim_status, may_see_challenge
from licensary.governance.models import Claim, Transfer
from licensary.governance.transfers import transfer_status


class BanIn(Schema):
    reason: Annotated[str, Printable(16)]  # tampering, sharing, fake_identity, support_spam, other
    note: Annotated[str, Printable(300, min_length=1, multiline=True)]
    cascade: StrictBool = False  # an agent's customers banned too


class TransferIn(Schema):
    license: Id
    to_account: Annotated[str, Printable(254)]  # the recipient's account id, or its e-mail


class TransferOut(Schema):
    id: str
    license: str
    from_account: str
    to_account: str
    status: str
    cancel_reason: str
    ticket: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class ClaimIn(Schema):
    product: Annotated[str, Printable(64)]  # slug or id
    ip: Annotated[str, Printable(45)]
    account: Id | None = None  # an agent claiming for its customer


class ProofIn(Schema):
    challenge: Annotated[str, Printable(64)]


class RejectClaimIn(Schema):
    reason: Annotated[str, Printable(200, min_length=1, multiline=True)]


class ClaimOut(Schema):
    id: str
    product: str
    ip: str
    claimant: str
    license: str
    status: str
    reason: str
    challenge: str | None  # the claimant's side only
    challenge_expires_at: datetime | None
    proved_at: datetime | None
    owner_deadline: datetime | None
    order: str | None
    created_at: datetime


def transfer_out(t: Transfer, now: datetime) -> dict:
    status, reason = transfer_status(t, now)
    return {
        "id": str(t.pk),
        "license": str(t.license_id),
        "from_account": str(t.from_account_id),
        "to_account": str(t.to_account_id),
        "status": status,
        "cancel_reason": reason,
        "ticket": str(t.ticket_id),
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "decided_at": t.decided_at,
    }


def claim_out(c: Claim, viewer: User, now: datetime) -> dict:
    shown = may_see_challenge(viewer, c)
    return {
        "id": str(c.pk),
        "product": str(c.product_id),
        "ip": c.ip,
        "claimant": str(c.claimant_id),
        "license": str(c.license_id),
        "status": claim_status(c, now),
        "reason": c.reason,
        # CLAIM_ID.SECRET: `licensary-client prove` reads the claim from it.
        "challenge": f"{c.pk}.{c.challenge}" if shown and c.proved_at is None else None,
        "challenge_expires_at": c.challenge_expires_at if shown else None,
        "proved_at": c.proved_at,
        "owner_deadline": c.owner_deadline,
        "order": str(c.order_id) if c.order_id else None,
        "created_at": c.created_at,
    }


class ProofOut(Schema):
    id: str
    status: str
