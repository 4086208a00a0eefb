"""Reads of accounts that are more than a filter (who may see which is `policy.py`'s)."""

from django.db.models import OuterRef, QuerySet, Subquery, Sum

from licensary.accounts.models import TermsAcceptance, User
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
