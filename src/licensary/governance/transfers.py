"""Transfers (rule 10, first case): the owner (or its agent) asks, through a transfers ticket
naming the recipient; the recipient (or its agent) accepts or declines; on accept the same
license moves in one transaction, its period unchanged, no fee. A pending transfer expires
after 7 days (`TRANSFER_DAYS`) whether or not any job has run: it reads as canceled
(`expired`) at once, and the periodic round writes that down.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import may_act_for_account, require_act_for
from licensary.accounts.services import account_require_in_good_standing
from licensary.core.db import with_retries
from licensary.core.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from licensary.governance import events as governance_events
from licensary.governance.claims import OPEN_CLAIMS, claim_cancel
from licensary.governance.models import Claim, Transfer
from licensary.licenses.models import License
from licensary.licenses.ownership import license_lock, license_transfer
from licensary.licenses.rules import NOT_RENEWABLE_REASONS, effective_status
from licensary.support.models import Ticket
from licensary.support.services import ticket_close, ticket_open

TRANSFER_DAYS = 7
EXPIRED = "expired"
TS = Transfer.Status


class TransferPending(DomainError):
    status = 409
    code = "transfer_pending"
    title = "A transfer is pending"


def transfer_status(transfer: Transfer, now: datetime) -> tuple[str, str]:
    """(status, cancel_reason) by the rules: a pending transfer past its expiry is canceled."""
    if transfer.status == TS.PENDING and now >= transfer.expires_at:
        return TS.CANCELED, EXPIRED
    return transfer.status, transfer.cancel_reason


def recipient_find(to_account: str) -> User:
    """The account named to receive a license, by id or e-mail: an active customer or agent.
    Anything else is one answer, so the call tells nobody which e-mails exist."""
    text = (to_account or "").strip()
    qs = User.objects.filter(kind__in=[User.Kind.CUSTOMER, User.Kind.AGENT]).exclude(
        status=User.Status.BANNED
    )
    found = (
        qs.filter(email=text.lower()).first()
        if "@" in text
        else qs.filter(pk=int(text)).first()
        if text.isascii() and text.isdigit() and len(text) < 19
        else None
    )
    if found is None:
        raise NotFound("No account by that id or e-mail can receive a license.")
    return found


def transfer_request(*, license: License, to_account: User, actor: User) -> Transfer:
    """Open a transfer of `license` to `to_account`, with its transfers ticket."""
    owner = license.account
    require_act_for(actor, owner, refusal="Only the license's owner (or its agent) transfers it.")
    account_require_in_good_standing(owner)
    if to_account.pk == owner.pk:
        raise ValidationFailed("to_account: the license is this account's already.")
    now = timezone.now()
    status = effective_status(license, now)
    if status == License.Status.DELETED:
        raise InvalidTransition("This license is deleted; there is nothing to transfer.")
    if license.cancel_reason in NOT_RENEWABLE_REASONS:
        raise InvalidTransition(
            f"This license was canceled ({license.cancel_reason}); it cannot be transferred."
        )
    return with_retries(
        lambda: _request(license=license, owner=owner, to_account=to_account, actor=actor)
    )


def _request(*, license: License, owner: User, to_account: User, actor: User) -> Transfer:
    now = timezone.now()
    try:
        with transaction.atomic():
            transfers_expire(license_id=license.pk, now=now)
            ticket = ticket_open(
                account=owner,
                department=Ticket.Department.TRANSFERS,
                subject=f"Transfer of license {license.pk} to {to_account.email}"[:200],
                body=(
                    f"{owner.email} asks to transfer license {license.pk} "
                    f"({license.product.name} on {license.ip}) to {to_account.email} "
                    f"(account {to_account.pk}). The recipient accepts or declines within "
                    f"{TRANSFER_DAYS} days."
                ),
                license=license,
                actor=actor,
                throttled=False,
            )
            with transaction.atomic():
                transfer = Transfer.objects.create(
                    license=license,
                    from_account=owner,
                    to_account=to_account,
                    requested_by=actor,
                    ticket=ticket,
                    created_at=now,
                    expires_at=now + timedelta(days=TRANSFER_DAYS),
                )
            governance_events.transfer_event(transfer, "requested", actor=actor)
    except IntegrityError:
        pending = Transfer.objects.filter(license=license, status=TS.PENDING).first()
        raise TransferPending(
            "This license already has a pending transfer; cancel it first.",
            extra={"transfer": str(pending.pk) if pending else None},
        ) from None
    return transfer


def transfers_expire(*, license_id: int | None = None, now: datetime | None = None) -> int:
    """Write down the pending transfers past their expiry (of one license, or all)."""
    now = now or timezone.now()
    qs = Transfer.objects.filter(status=TS.PENDING, expires_at__lte=now)
    if license_id is not None:
        qs = qs.filter(license_id=license_id)
    done = 0
    for transfer in qs.select_related("ticket").order_by("pk"):
        done += _end(transfer, status=TS.CANCELED, reason=EXPIRED, actor=None, now=now)
    return done


def _end(transfer: Transfer, *, status: str, reason: str, actor: User | None, now: datetime) -> int:
    """End a pending transfer (compare-and-swap), close its ticket, record it."""
    if (
        Transfer.objects.filter(pk=transfer.pk, status=TS.PENDING).update(
            status=status, cancel_reason=reason, decided_at=now
        )
        != 1
    ):
        return 0
    transfer.status, transfer.cancel_reason, transfer.decided_at = status, reason, now
    action = {"accepted": "accepted", "declined": "declined"}.get(str(status), "canceled")
    governance_events.transfer_event(
        transfer, action, actor=actor, before=TS.PENDING, reason=reason
    )
    ticket = transfer.ticket
    if ticket.status != Ticket.Status.CLOSED:
        ticket_close(
            ticket=ticket, actor=None, note=f"transfer {action}" + (f": {reason}" if reason else "")
        )
    return 1


def _decidable(transfer: Transfer, now: datetime) -> None:
    status, reason = transfer_status(transfer, now)
    if status != TS.PENDING:
        raise InvalidTransition(
            f"Transfer {transfer.pk} is {status}" + (f" ({reason})" if reason else "") + "."
        )


def transfer_accept(*, transfer: Transfer, actor: User) -> Transfer:
    """The recipient (or its agent) takes the license: it moves in this transaction."""
    require_act_for(actor, transfer.to_account, refusal="Only the recipient accepts a transfer.")
    account_require_in_good_standing(transfer.to_account)

    def accept() -> Transfer:
        with transaction.atomic():
            locked = (
                Transfer.objects.select_for_update().select_related("ticket").get(pk=transfer.pk)
            )
            now = timezone.now()
            _decidable(locked, now)
            lic = license_lock(locked.license_id)
            if (
                lic.account_id != locked.from_account_id
                or lic.status == License.Status.DELETED
                or (lic.cancel_reason in NOT_RENEWABLE_REASONS)
            ):
                _end(locked, status=TS.CANCELED, reason="license changed", actor=None, now=now)
                return locked
            license_transfer(
                license=lic, to_account=locked.to_account, transfer=locked.pk, actor=actor
            )
            _end(locked, status=TS.ACCEPTED, reason="", actor=actor, now=now)
            # The owner gave it to the claimant "instead": its claim is answered.
            for claim in Claim.objects.filter(
                license_id=lic.pk, claimant=locked.to_account, status__in=OPEN_CLAIMS
            ):
                claim_cancel(claim=claim, reason="the owner transferred the license", actor=None)
            return locked

    done = with_retries(accept)
    if done.status == TS.CANCELED and done.cancel_reason == "license changed":
        raise InvalidTransition(
            "The license changed meanwhile (claimed, deleted or moved); the transfer is canceled."
        )
    return done


def transfer_decline(*, transfer: Transfer, actor: User) -> Transfer:
    require_act_for(actor, transfer.to_account, refusal="Only the recipient declines a transfer.")
    return _decide(transfer, status=TS.DECLINED, reason="", actor=actor)


def transfer_cancel(*, transfer: Transfer, actor: User) -> Transfer:
    require_act_for(actor, transfer.from_account, refusal="Only the owner cancels its transfer.")
    return _decide(transfer, status=TS.CANCELED, reason="by the owner", actor=actor)


def _decide(transfer: Transfer, *, status: str, reason: str, actor: User | None) -> Transfer:
    def decide() -> Transfer:
        with transaction.atomic():
            locked = (
                Transfer.objects.select_for_update().select_related("ticket").get(pk=transfer.pk)
            )
            now = timezone.now()
            _decidable(locked, now)
            _end(locked, status=status, reason=reason, actor=actor, now=now)
            return locked

    return with_retries(decide)


def transfers_cancel_for_ban(*, account_ids: list[int], actor: User) -> int:
    """In the ban's transaction: every pending transfer from or to the banned accounts."""
    now = timezone.now()
    done = 0
    for transfer in (
        Transfer.objects.select_for_update()
        .select_related("ticket")
        .filter(Q(from_account_id__in=account_ids) | Q(to_account_id__in=account_ids))
        .filter(status=TS.PENDING)
        .order_by("pk")
    ):
        done += _end(transfer, status=TS.CANCELED, reason="account banned", actor=actor, now=now)
    return done


def visible_transfers(user: User) -> QuerySet[Transfer]:
    qs = Transfer.objects.select_related("from_account", "to_account")
    if user.is_staff_account:
        return qs
    mine = Q(from_account=user) | Q(to_account=user)
    if user.kind == User.Kind.AGENT:
        mine |= Q(from_account__agent=user) | Q(to_account__agent=user)
    return qs.filter(mine)


def may_decide(user: User, transfer: Transfer) -> bool:
    return may_act_for_account(user, transfer.to_account)
