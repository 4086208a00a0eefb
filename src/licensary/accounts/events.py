"""What happens to accounts, tokens, credit and terms, as events: each writes its audit entry
and is announced (`audit.bus`), in the caller's transaction."""

from datetime import datetime
from typing import Any

from licensary.accounts.models import (
    AgentReport,
    AgentWarning,
    ApiToken,
    IdentityDocument,
    TermsVersion,
    User,
)
from licensary.audit.bus import record
from licensary.audit.services import Change


def account_created(user: User, *, actor: User | None) -> None:
    record(
        Change(
            action="account.created",
            object_type="account",
            object_id=user.pk,
            actor=actor,
            account_id=user.pk,
            after={"kind": user.kind, "email": user.email, "agent": user.agent_id},
        )
    )


def account_updated(
    user: User, *, before: dict[str, Any], after: dict[str, Any], actor: User
) -> None:
    """`account.updated`: the fields `after` names (its e-mail; an agent's white-label name,
    the name its customers' mail is sent under), from what they were (`before`)."""
    record(
        Change(
            action="account.updated",
            object_type="account",
            object_id=user.pk,
            actor=actor,
            account_id=user.pk,
            before=before,
            after=after,
        )
    )


def account_password_changed(user: User, *, tokens: int, sessions: int, actor: User) -> None:
    """`account.password_changed`: with how many API tokens and other signed-in sessions it
    ended (ASVS 7.4.2). The password itself, old or new, is never recorded."""
    record(
        Change(
            action="account.password_changed",
            object_type="account",
            object_id=user.pk,
            actor=actor,
            account_id=user.pk,
            after={"tokens_revoked": tokens, "sessions_ended": sessions},
        )
    )


def account_password_reset_requested(user: User) -> None:
    """`account.password_reset_requested`: someone asked for the reset mail of `user` (the
    mail job makes the link; it is never recorded)."""
    record(
        Change(
            action="account.password_reset_requested",
            object_type="account",
            object_id=user.pk,
            actor_label="anonymous",
            account_id=user.pk,
        )
    )


def account_signed_in(user: User) -> None:
    record(
        Change(
            action="account.signed_in",
            object_type="account",
            object_id=user.pk,
            actor=user,
            account_id=user.pk,
        )
    )


def account_sign_in_failed(username: str) -> None:
    record(
        Change(
            action="account.sign_in_failed",
            object_type="account",
            object_id=username[:40],
            actor_label="anonymous",
        )
    )


def credit_adjusted(account: User, *, credit: int, amount: int, note: str, actor: User) -> None:
    """`credit` is the balance after the adjustment of `amount`."""
    record(
        Change(
            action="credit.adjusted",
            object_type="account",
            object_id=account.pk,
            actor=actor,
            account_id=account.pk,
            before={"credit": credit - amount},
            after={"credit": credit},
            reason=note,
        )
    )


def token_created(token: ApiToken, *, actor: User) -> None:
    record(
        Change(
            action="token.created",
            object_type="token",
            object_id=token.pk,
            actor=actor,
            account_id=token.user_id,
            after={
                "prefix": token.prefix,
                "name": token.name,
                "scopes": token.scopes,
                "expires_at": token.expires_at,
            },
        )
    )


def token_revoked(token: ApiToken, *, at: datetime, actor: User) -> None:
    record(
        Change(
            action="token.revoked",
            object_type="token",
            object_id=token.pk,
            actor=actor,
            account_id=token.user_id,
            before={"revoked_at": None},
            after={"revoked_at": at},
        )
    )


def terms_published(terms: TermsVersion, *, actor: User) -> None:
    record(
        Change(
            action="terms.published",
            object_type="terms",
            object_id=terms.version,
            actor=actor,
            after={"version": terms.version},
        )
    )


def terms_accepted(user: User, *, version: int, ip: str) -> None:
    record(
        Change(
            action="terms.accepted",
            object_type="account",
            object_id=user.pk,
            actor=user,
            account_id=user.pk,
            after={"version": version, "ip": ip},
        )
    )


def account_banned(user: User, *, reason: str, note: str, tokens: int, actor: User) -> None:
    record(
        Change(
            action="account.banned",
            object_type="account",
            object_id=user.pk,
            actor=actor,
            account_id=user.pk,
            before={"status": "active"},
            after={"status": "banned", "reason": reason, "tokens_revoked": tokens},
            reason=note,
        )
    )


def identity_changed(
    user: User, *, document: IdentityDocument, before: str, actor: User, reason: str
) -> None:
    """`identity.submitted|verified|rejected` (rule 12)."""
    action = {"pending": "submitted", "verified": "verified", "rejected": "rejected"}[user.identity]
    record(
        Change(
            action=f"identity.{action}",
            object_type="account",
            object_id=user.pk,
            actor=actor,
            account_id=user.pk,
            before={"identity": before},
            after={"identity": user.identity, "document": document.pk},
            reason=reason[:200],
        ),
        document=document.pk,
    )


def agent_reported(report: AgentReport) -> None:
    record(
        Change(
            action="agent.reported",
            object_type="account",
            object_id=report.agent_id,
            actor=report.reporter,
            account_id=None,  # a report is staff's to read, not the agent's history
            after={"report": report.pk, "reason": report.reason},
        )
    )


def agent_warned(warning: AgentWarning, *, count: int, flagged: bool) -> None:
    record(
        Change(
            action="agent.warned",
            object_type="account",
            object_id=warning.agent_id,
            actor=warning.staff,
            account_id=warning.agent_id,
            after={"warning": warning.pk, "warnings": count, "flagged_for_review": flagged},
            reason=warning.reason[:200],
        )
    )
