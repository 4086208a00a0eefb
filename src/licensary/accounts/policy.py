"""Who may do what: the one answer every service and every queryset asks.

- staff act for every account and see everything;
- an agent acts for itself and for its own customers (accounts whose `agent` it is), never for
  another agent's;
- a customer acts for itself only.

What an actor may not see is `not_found` (its existence is not confirmed); what it may see
but not do is `permission_denied`. Agents' scoped tokens and transfers extend this module.
"""

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from licensary.accounts.models import User
from licensary.core.api import parse_id
from licensary.core.errors import NotFound, PermissionDenied

M = TypeVar("M", bound=Model)


def is_staff(actor: object) -> bool:
    return bool(getattr(actor, "is_staff_account", False))


def require_staff(actor: Any, doing: str) -> User:
    """`actor` when it is a staff account; otherwise `permission_denied` ("Only staff ...")."""
    if not is_staff(actor):
        raise PermissionDenied(f"Only staff {doing}.")
    assert isinstance(actor, User)
    return actor


def require_agent(actor: Any, doing: str) -> User:
    """`actor` when it is an agent; otherwise `permission_denied` ("Only agents ...")."""
    if not (isinstance(actor, User) and actor.kind == User.Kind.AGENT):
        raise PermissionDenied(f"Only agents {doing}.")
    return actor


def may_act_for(actor: User, account_id: int, account_agent_id: int | None) -> bool:
    """Whether `actor` may act for the account `account_id` (whose agent is
    `account_agent_id`): staff, the account itself, or its agent."""
    return (
        actor.is_staff_account
        or actor.pk == account_id
        or (actor.kind == User.Kind.AGENT and account_agent_id == actor.pk)
    )


def may_act_for_account(actor: User, account: User) -> bool:
    return may_act_for(actor, account.pk, account.agent_id)


def require_act_for(actor: User, account: User, *, refusal: str) -> None:
    """`permission_denied` with `refusal` unless `actor` may act for `account`."""
    if not may_act_for_account(actor, account):
        raise PermissionDenied(refusal)


def visible(queryset: QuerySet[M], actor: User, field: str = "account") -> QuerySet[M]:
    """`queryset` narrowed to the objects whose `field` (an account) `actor` may see: its
    own, an agent's customers' too, everything for staff."""
    if actor.is_staff_account:
        return queryset
    if actor.kind == User.Kind.AGENT:
        return queryset.filter(Q(**{field: actor}) | Q(**{f"{field}__agent": actor}))
    return queryset.filter(**{field: actor})


def accounts_visible(actor: User) -> QuerySet[User]:
    """The accounts `actor` may see: all for staff; itself and its customers for an agent;
    itself for a customer."""
    qs = User.objects.all()
    if actor.is_staff_account:
        return qs
    if actor.kind == User.Kind.AGENT:
        return qs.filter(Q(pk=actor.pk) | Q(agent=actor))
    return qs.filter(pk=actor.pk)


def accounts_listed(actor: User) -> QuerySet[User]:
    """The accounts `actor` lists: all for staff; an agent's customers; none for a customer
    (it reads its own account, not a list)."""
    qs = User.objects.all()
    if actor.is_staff_account:
        return qs
    return qs.filter(agent=actor) if actor.kind == User.Kind.AGENT else qs.none()


def account_get_visible(*, user: User, account_id: object) -> User:
    """The account `account_id` if `user` may see it; `not_found` otherwise."""
    account = accounts_visible(user).filter(pk=parse_id(account_id)).first()
    if account is None:
        raise NotFound("No such account.")
    return account
