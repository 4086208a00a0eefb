"""A ban (rule 6), in one transaction: the account is marked banned (its tokens revoked and
its sessions ended), its unpaid invoices are void and its licenses canceled with reason
`banned` (manufacturer licenses suspended upstream by their sync job). Nothing is refunded and
its credit stays as it is; its paid orders not delivered yet are rejected (never delivered,
and not refunded either); its pending transfers (either side) and open claims are canceled.
Banning an agent bans its customers too only when staff say so (`cascade`): a reseller's
customers may be innocent of what it did.

Locks follow the money paths' order (credit book, invoices, then licenses), so a payment or a
sweep running at the same moment waits for the ban or the ban for it, never a deadlock; a
payment that comes after finds its invoice void (gateway money then goes to credit, as for
any invoice that can no longer take it) and a renewal finds its license not renewable.
"""

from typing import Any

from django.db import transaction

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.accounts.services import (
    account_ban_mark,
    accounts_live_sessions,
    accounts_live_tokens,
)
from licensary.billing.services import account_invoices_void, invoices_due_for_ban
from licensary.core.db import with_retries
from licensary.core.errors import ValidationFailed
from licensary.governance.claims import claims_cancel_for_ban
from licensary.governance.transfers import transfers_cancel_for_ban
from licensary.ledger.services import lock_credit_book
from licensary.licenses.bans import (
    licenses_billed_to_banned,
    licenses_cancel_for_ban,
    licenses_due_for_ban,
    licenses_unbill_for_ban,
)
from licensary.orders.services import orders_due_for_ban, orders_reject_for_ban


def account_ban(
    *, account: User, actor: User, reason: str, note: str, cascade: bool = False
) -> User:
    require_staff(actor, "ban accounts")
    if reason not in User.BanReason.values:
        raise ValidationFailed(f"reason must be one of {', '.join(User.BanReason.values)}.")
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("note: say what the ban is for (it is kept with the ban).")
    if cascade and account.kind != User.Kind.AGENT:
        raise ValidationFailed("cascade applies to an agent's customers; this is not an agent.")
    return with_retries(
        lambda: _ban(account=account, actor=actor, reason=reason, note=note, cascade=cascade)
    )


def ban_targets(account: User, *, cascade: bool) -> list[User]:
    """Whom a ban of `account` bans: it, and with `cascade` its customers not banned yet."""
    banned = [account]
    if cascade:
        banned += list(
            User.objects.filter(agent=account).exclude(status=User.Status.BANNED).order_by("pk")
        )
    return banned


def ban_preview(account: User, *, cascade: bool) -> dict[str, Any]:
    """What `account_ban` would do now, counted from the very querysets its steps act on:
    for the page that asks staff to confirm. It changes nothing."""
    banned = ban_targets(account, cascade=cascade)
    ids = [user.pk for user in banned]
    return {
        "accounts": banned,
        "licenses": licenses_due_for_ban(ids).count(),
        "handed_back": licenses_billed_to_banned(ids).count(),
        "invoices": invoices_due_for_ban(ids).count(),
        "orders": orders_due_for_ban(ids).count(),
        "tokens": accounts_live_tokens(ids).count(),
        "sessions": len(accounts_live_sessions(ids)),
    }


def _ban(*, account: User, actor: User, reason: str, note: str, cascade: bool) -> User:
    with transaction.atomic():
        banned = ban_targets(account, cascade=cascade)
        for user in banned:
            lock_credit_book(user)
        ids = [user.pk for user in banned]
        account_invoices_void(account_ids=ids, reason=f"account banned: {reason}", actor=actor)
        orders_reject_for_ban(account_ids=ids, note=note, actor=actor)
        marked = [
            account_ban_mark(account=user, reason=reason, note=note, actor=actor) for user in banned
        ]
        transfers_cancel_for_ban(account_ids=ids, actor=actor)
        claims_cancel_for_ban(account_ids=ids, actor=actor)
        licenses_cancel_for_ban(account_ids=ids, note=note, actor=actor)
        licenses_unbill_for_ban(agent_ids=ids, note=note, actor=actor)
    return marked[0]
