"""Claims (rule 10, second and third cases): an account that runs the server at an IP claims
the (product, IP) another account's license holds. It proves control of the server (a random
single-use challenge that must come back from that IP itself); when the license is active its
owner is told and has 3 days (`OWNER_DAYS`) to transfer it instead (skipped when the license
is blocked or canceled); staff then approve or reject. Approval cancels the old license (reason
`claimed`, never renewed) and makes a `claim` order for the claimant, whose invoice always
carries the setup fee; when it is paid, its delivery frees the slot and takes it in one
transaction (`orders.delivery`).

The owner's window is read by the rules, not by a job: past `owner_deadline` the claim reads
as awaiting proof (or review, once proved) at once; the periodic round writes that down.
"""

import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_act_for, require_staff
from licensary.accounts.services import account_require_in_good_standing
from licensary.catalog.models import Product
from licensary.core.db import with_retries
from licensary.core.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from licensary.core.ip import normalize_license_ip
from licensary.governance import events as governance_events
from licensary.governance.models import Claim
from licensary.licenses.lifecycle import license_live_holder
from licensary.licenses.models import License
from licensary.licenses.ownership import (
    license_cancel_for_claim,
    license_lock,
    lock_open_renewals,
)
from licensary.licenses.rules import CLAIMED, effective_status
from licensary.orders.models import Order
from licensary.orders.services import order_create

OWNER_DAYS = 3
CHALLENGE_HOURS = 24
CS = Claim.Status
OPEN_CLAIMS = (CS.AWAITING_OWNER, CS.AWAITING_PROOF, CS.AWAITING_REVIEW)


class NothingToClaim(DomainError):
    status = 409
    code = "nothing_to_claim"
    title = "Nothing to claim"


class ClaimPending(DomainError):
    status = 409
    code = "claim_pending"
    title = "A claim is open"


class ProofRefused(DomainError):
    status = 403
    code = "proof_wrong_ip"
    title = "The proof did not come from the claimed IP"


class ChallengeUsed(DomainError):
    status = 409
    code = "challenge_used"
    title = "The challenge was used already"


class ChallengeExpired(DomainError):
    status = 409
    code = "challenge_expired"
    title = "The challenge expired"


def claim_status(claim: Claim, now: datetime) -> str:
    """The claim's status by the rules: past the owner's deadline it awaits proof, or review
    once proved, whether or not the periodic round has run."""
    if claim.status == CS.AWAITING_OWNER and claim.owner_deadline and now >= claim.owner_deadline:
        return CS.AWAITING_REVIEW if claim.proved_at else CS.AWAITING_PROOF
    return claim.status


def _new_challenge(now: datetime) -> tuple[str, datetime]:
    return secrets.token_urlsafe(32), now + timedelta(hours=CHALLENGE_HOURS)  # 256 bits


def claim_open(*, product: Product, ip: str, actor: User, account: User | None = None) -> Claim:
    """Claim (product, ip) for `account` (the caller, or an agent's customer)."""
    claimant = account or actor
    require_act_for(actor, claimant, refusal="You can claim only for yourself or your customers.")
    if claimant.is_staff_account:
        raise ValidationFailed("Staff accounts do not hold licenses.")
    account_require_in_good_standing(actor)
    account_require_in_good_standing(claimant)
    ip = normalize_license_ip(ip)
    now = timezone.now()
    holder = license_live_holder(product_id=product.pk, ip=ip)
    if holder is None or holder.cancel_reason == CLAIMED:
        raise NothingToClaim(
            f"No license holds {product.name} on {ip}"
            + (" that can still be claimed" if holder else "")
            + ": order it (POST /api/v1/orders)."
        )
    if holder.account_id == claimant.pk:
        raise NothingToClaim(f"This account holds that license already (license {holder.pk}).")
    active = effective_status(holder, now) == License.Status.ACTIVE
    challenge, expires = _new_challenge(now)
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                product=product,
                ip=ip,
                claimant=claimant,
                requested_by=actor,
                license=holder,
                owner_id=holder.account_id,
                status=CS.AWAITING_OWNER if active else CS.AWAITING_PROOF,
                owner_deadline=now + timedelta(days=OWNER_DAYS) if active else None,
                challenge=challenge,
                challenge_expires_at=expires,
                created_at=now,
            )
            governance_events.claim_event(
                claim, "opened", actor=actor, owner=holder.account_id if active else None
            )
    except IntegrityError:
        raise ClaimPending(
            "This account already has an open claim on that product and IP."
        ) from None
    return claim


def _same_ip(a: str, b: str) -> bool:
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped:
        x = x.ipv4_mapped
    if isinstance(y, ipaddress.IPv6Address) and y.ipv4_mapped:
        y = y.ipv4_mapped
    return x == y


def claim_prove(*, claim: Claim, challenge: str, caller_ip: str) -> Claim:
    """The server at the claimed IP answers the challenge (no account: the challenge is the
    credential). A used or expired challenge, or another IP, is refused with its code; a wrong
    challenge is the made-up id's `not_found`, so that the unauthenticated route does not tell
    which claims exist."""

    def prove() -> Claim:
        with transaction.atomic():
            locked = Claim.objects.select_for_update().get(pk=claim.pk)
            now = timezone.now()
            # Shown as CLAIM_ID.SECRET (what `licensary-client prove` takes); the bare secret
            # is accepted too.
            given = (challenge or "").strip().removeprefix(f"{locked.pk}.")
            if not hmac.compare_digest(locked.challenge.encode(), given.encode()):
                raise NotFound("No such object.")
            if locked.proved_at is not None:
                raise ChallengeUsed("This challenge proved the claim already; it works once.")
            status = claim_status(locked, now)
            if status not in OPEN_CLAIMS:
                raise InvalidTransition(f"Claim {locked.pk} is {status}.")
            if now >= locked.challenge_expires_at:
                raise ChallengeExpired(
                    "The challenge expired; ask a new one (POST /api/v1/claims/{id}/challenge)."
                )
            if not _same_ip(caller_ip, locked.ip):
                raise ProofRefused(
                    f"The proof must come from {locked.ip} itself, not from another address."
                )
            before = status
            new = CS.AWAITING_OWNER if status == CS.AWAITING_OWNER else CS.AWAITING_REVIEW
            Claim.objects.filter(pk=locked.pk).update(
                status=new, proved_at=now, proved_from=caller_ip[:64]
            )
            locked.status, locked.proved_at, locked.proved_from = new, now, caller_ip[:64]
            governance_events.claim_event(locked, "proved", actor=None, before=before)
            return locked

    return with_retries(prove)


def claim_new_challenge(*, claim: Claim, actor: User) -> Claim:
    require_act_for(actor, claim.claimant, refusal="Not your claim.")
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        if claim_status(locked, timezone.now()) not in OPEN_CLAIMS or locked.proved_at:
            raise InvalidTransition("Only an open claim not yet proved gets a new challenge.")
        locked.challenge, locked.challenge_expires_at = _new_challenge(timezone.now())
        locked.save(update_fields=["challenge", "challenge_expires_at"])
        governance_events.claim_event(locked, "challenge_renewed", actor=actor)
    return locked


def claim_approve(*, claim: Claim, actor: User) -> Claim:
    """Staff approve a proved claim past the owner's window: the old license is canceled
    (reason `claimed`) and the claimant's `claim` order, with the setup fee, is made."""
    require_staff(actor, "decide claims")

    def approve() -> Claim:
        with transaction.atomic():
            locked = Claim.objects.select_for_update().select_related("product").get(pk=claim.pk)
            now = timezone.now()
            status = claim_status(locked, now)
            if status == CS.AWAITING_OWNER:
                raise InvalidTransition(
                    f"The owner has until {locked.owner_deadline:%Y-%m-%d %H:%M:%S} UTC to "
                    "transfer the license instead."
                )
            if status != CS.AWAITING_REVIEW:
                raise InvalidTransition(
                    f"Claim {locked.pk} is {status}"
                    + (
                        ": the server has not proved it yet."
                        if status == CS.AWAITING_PROOF
                        else "."
                    )
                )
            lock_open_renewals(locked.license_id)
            lic = license_lock(locked.license_id)
            if (
                lic.status == License.Status.DELETED
                or lic.account_id == locked.claimant_id
                or lic.cancel_reason == CLAIMED
                or lic.ip != locked.ip
                or lic.product_id != locked.product_id
            ):
                _set(
                    locked,
                    CS.CANCELED,
                    reason="the license is no longer another account's on that IP",
                    actor=None,
                )
                return locked
            if locked.owner_deadline is None and lic.status == License.Status.ACTIVE:
                # Claimed while blocked or canceled, renewed since: its owner gets the 3 days
                # an active license's owner gets, starting now.
                deadline = now + timedelta(days=OWNER_DAYS)
                Claim.objects.filter(pk=locked.pk).update(
                    status=CS.AWAITING_OWNER, owner_deadline=deadline, owner_id=lic.account_id
                )
                locked.status, locked.owner_deadline = CS.AWAITING_OWNER, deadline
                locked.owner_id = lic.account_id
                governance_events.claim_event(
                    locked, "opened", actor=None, before=status, owner=lic.account_id
                )
                return locked
            owner = lic.account_id
            license_cancel_for_claim(license=lic, claim=locked.pk, actor=actor)
            # An agent's claim for its customer lands in the agent's panel: it pays (rule 10).
            agent = locked.requested_by
            order = order_create(
                actor=actor,
                account=locked.claimant,
                product=locked.product,
                ip=locked.ip,
                kind=Order.Kind.CLAIM,
                payer=agent if agent.pk == locked.claimant.agent_id else None,
            )
            Claim.objects.filter(pk=locked.pk).update(
                status=CS.APPROVED, order=order, decided_at=now, decided_by=actor
            )
            locked.status, locked.order, locked.decided_at = CS.APPROVED, order, now
            governance_events.claim_event(
                locked, "approved", actor=actor, before=status, owner=owner
            )
            return locked

    done = with_retries(approve)
    if done.status == CS.CANCELED:
        raise InvalidTransition(f"The claim is canceled: {done.reason}.")
    if done.status == CS.AWAITING_OWNER:
        raise InvalidTransition(
            "The license was renewed since the claim: its owner now has until "
            f"{done.owner_deadline:%Y-%m-%d %H:%M:%S} UTC to transfer it instead."
        )
    return done


def claim_reject(*, claim: Claim, reason: str, actor: User) -> Claim:
    require_staff(actor, "decide claims")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the claim is rejected (the claimant is told).")
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        status = claim_status(locked, timezone.now())
        if status not in OPEN_CLAIMS:
            raise InvalidTransition(f"Claim {locked.pk} is {status}.")
        _set(locked, CS.REJECTED, reason=reason, actor=actor)
    return locked


def claim_cancel(*, claim: Claim, reason: str, actor: User | None) -> Claim:
    """End an open claim that no longer applies (the owner transferred, a ban), in the
    caller's transaction."""
    _set(claim, CS.CANCELED, reason=reason, actor=actor)
    return claim


def _set(claim: Claim, status: str, *, reason: str, actor: User | None) -> None:
    before = claim.status
    if (
        Claim.objects.filter(pk=claim.pk, status__in=OPEN_CLAIMS).update(
            status=status, reason=reason[:200], decided_at=timezone.now(), decided_by=actor
        )
        != 1
    ):
        raise InvalidTransition(f"Claim {claim.pk} is decided already.")
    claim.status, claim.reason = status, reason[:200]
    action = "rejected" if status == CS.REJECTED else "canceled"
    governance_events.claim_event(claim, action, actor=actor, before=before, reason=reason)


def claims_write_down(*, now: datetime | None = None) -> int:
    """Record the claims whose owner's window has ended (the periodic round)."""
    now = now or timezone.now()
    done = 0
    for claim in Claim.objects.filter(status=CS.AWAITING_OWNER, owner_deadline__lte=now).order_by(
        "pk"
    ):
        new = claim_status(claim, now)
        if Claim.objects.filter(pk=claim.pk, status=CS.AWAITING_OWNER).update(status=new) == 1:
            claim.status = new
            governance_events.claim_event(
                claim, "owner_window_ended", actor=None, before=CS.AWAITING_OWNER
            )
            done += 1
    return done


def claims_cancel_for_ban(*, account_ids: list[int], actor: User) -> int:
    done = 0
    for claim in (
        Claim.objects.select_for_update()
        .filter(claimant_id__in=account_ids, status__in=OPEN_CLAIMS)
        .order_by("pk")
    ):
        claim_cancel(claim=claim, reason="account banned", actor=actor)
        done += 1
    return done


def visible_claims(user: User) -> QuerySet[Claim]:
    """Claims the claimant's side sees, the claimed license's owner's side too, staff all."""
    qs = Claim.objects.select_related("license")
    if user.is_staff_account:
        return qs
    mine = Q(claimant=user) | Q(license__account=user)
    if user.kind == User.Kind.AGENT:
        mine |= Q(claimant__agent=user) | Q(license__account__agent=user)
    return qs.filter(mine)


def may_see_challenge(user: User, claim: Claim) -> bool:
    """Only the claimant's side reads the challenge; never the owner it is made against."""
    return user.pk == claim.claimant_id or (
        user.kind == User.Kind.AGENT and claim.claimant.agent_id == user.pk
    )
