"""Reads of accounts that are more than a filter (who may see which is `policy.py`'s)."""

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from licensary.accounts.models import IdentityDocument, TermsAcceptance, TermsVersion, User
from licensary.audit.models import AuditEntry
from licensary.core.api import parse_id
from licensary.core.errors import NotFound
from licensary.ledger.models import LedgerAccount, Posting


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


def agent_get(agent_id: str) -> User:
    """The agent account `agent_id` names (an account of another kind is no agent)."""
    agent = User.objects.filter(pk=parse_id(agent_id), kind=User.Kind.AGENT).first()
    if agent is None:
        raise NotFound("No such agent.")
    return agent


def account_history_entries(account: User) -> QuerySet[AuditEntry]:
    """Every audit entry about `account`'s orders, invoices, money, licenses, tickets,
    transfers, claims and the account itself (each entry names the account it is about).
    Staff's internal notes are recorded about no account, so they are never here."""
    return AuditEntry.objects.filter(account_id=account.pk).select_related("actor")


def history_actor(entry: AuditEntry, viewer: User) -> str:
    """Who made the change, as `viewer` may read it (rule 15): staff read the actor's e-mail;
    an owner reads "staff" for staff, "agent" for its agent, "system" for the platform, its
    own e-mail for itself, and "another account" for anyone else (a transfer's other side)."""
    actor = entry.actor
    if actor is None:
        return entry.actor_label or "system"
    if viewer.is_staff_account:
        return actor.email
    if actor.is_staff_account:
        return "staff"
    if actor.pk == viewer.pk:
        return actor.email
    if actor.pk == viewer.agent_id:
        return "agent"
    if viewer.kind == User.Kind.AGENT and actor.agent_id == viewer.pk:
        return actor.email  # the agent's own customer
    return "another account"


def terms_versions_with_acceptances() -> QuerySet[TermsVersion]:
    """Every published version of the terms, newest first, each with `accepted`: how many
    accounts accepted it (in the one query)."""
    accepted = (
        TermsAcceptance.objects.filter(terms=OuterRef("pk"))
        .values("terms")
        .annotate(n=Count("user", distinct=True))
        .values("n")
    )
    return (
        TermsVersion.objects.select_related("published_by")
        .annotate(accepted=Coalesce(Subquery(accepted), 0))
        .order_by("-version")
    )


def terms_acceptances_of(terms: TermsVersion) -> QuerySet[TermsAcceptance]:
    """Who accepted `terms`, when and from which address."""
    return TermsAcceptance.objects.filter(terms=terms).select_related("user")


def accounts_yet_to_accept(terms: TermsVersion) -> QuerySet[User]:
    """The accounts (staff aside: they are not bound) that have not accepted `terms`."""
    return User.objects.exclude(kind=User.Kind.STAFF).exclude(
        pk__in=TermsAcceptance.objects.filter(terms=terms).values("user")
    )


def identity_document_latest(account: User) -> IdentityDocument | None:
    """The account's latest identity document (its status and, if rejected, staff's reason)."""
    return IdentityDocument.objects.filter(account=account).order_by("-pk").first()
