"""What happens to transfers and claims, as events: each writes its audit entry (with the
account it is about, so both sides' histories show it) and announces it (mail, webhooks)."""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.governance.models import Claim, Transfer


def transfer_event(
    transfer: Transfer, action: str, *, actor: User | None, before: str = "", reason: str = ""
) -> None:
    """`transfer.requested|accepted|declined|canceled`: one entry for each side."""
    after = {
        "status": transfer.status,
        "license": transfer.license_id,
        "from_account": transfer.from_account_id,
        "to_account": transfer.to_account_id,
        "cancel_reason": transfer.cancel_reason,
    }
    record(
        *(
            Change(
                action=f"transfer.{action}",
                object_type="transfer",
                object_id=transfer.pk,
                actor=actor,
                actor_label="" if actor else "system",
                account_id=account,
                before={"status": before} if before else {},
                after=after,
                reason=reason[:200],
            )
            for account in (transfer.from_account_id, transfer.to_account_id)
        ),
        transfer=transfer.pk,
    )


def claim_event(
    claim: Claim,
    action: str,
    *,
    actor: User | None,
    before: str = "",
    reason: str = "",
    owner: int | None = None,
) -> None:
    """`claim.opened|proved|approved|rejected|canceled|owner_window_ended`: an entry for the
    claimant and, where it concerns them, the license's owner (never with the challenge)."""
    after = {
        "status": claim.status,
        "product": claim.product_id,
        "ip": claim.ip,
        "license": claim.license_id,
        "order": claim.order_id,
        "owner_deadline": claim.owner_deadline,
    }
    accounts = [claim.claimant_id] + ([owner] if owner and owner != claim.claimant_id else [])
    record(
        *(
            Change(
                action=f"claim.{action}",
                object_type="claim",
                object_id=claim.pk,
                actor=actor,
                actor_label="" if actor else "system",
                account_id=account,
                before={"status": before} if before else {},
                after=after,
                reason=reason[:200],
            )
            for account in accounts
        ),
        claim=claim.pk,
        owner=owner,
    )
