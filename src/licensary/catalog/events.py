"""What happens to the catalog, as events: each writes its audit entry and is announced to
the apps that react (`audit.bus`), in the caller's transaction."""

from collections.abc import Mapping

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.catalog.models import AgentTier, Product, WholesalePrice


def product_created(product: Product, *, values: Mapping[str, object], actor: User) -> None:
    """`product.created`, with the `values` it was made with."""
    record(
        Change(
            action="product.created",
            object_type="product",
            object_id=product.pk,
            actor=actor,
            after=dict(values),
        )
    )


def product_updated(
    product: Product,
    *,
    before: Mapping[str, object],
    changes: Mapping[str, object],
    actor: User,
) -> None:
    """`product.updated`: the fields `changes` names, from what they were (`before`)."""
    record(
        Change(
            action="product.updated",
            object_type="product",
            object_id=product.pk,
            actor=actor,
            before=dict(before),
            after=dict(changes),
        )
    )


def wholesale_price_changed(
    row: WholesalePrice,
    *,
    before: Mapping[str, object] | None,
    removed: bool = False,
    actor: User,
) -> None:
    """`wholesale_price.set` (or `.removed`) for an agent (on its account's history) or a
    tier; `before` is the price it replaced, None for a new one."""
    after = {} if removed else {"price": row.price, "setup_fee": row.setup_fee}
    record(
        Change(
            action="wholesale_price.removed" if removed else "wholesale_price.set",
            object_type="product",
            object_id=row.product_id,
            actor=actor,
            account_id=row.agent_id,
            before={**(dict(before) if before else {}), "for": _for(row)},
            after={**after, "for": _for(row)},
        )
    )


def _for(row: WholesalePrice) -> str:
    return f"agent {row.agent_id}" if row.agent_id else f"tier {row.tier_id}"


def agent_tier_created(tier: AgentTier, *, actor: User) -> None:
    record(
        Change(
            action="agent_tier.created",
            object_type="agent_tier",
            object_id=tier.pk,
            actor=actor,
            after={"name": tier.name},
        )
    )


def agent_tier_assigned(
    agent: User, *, before: AgentTier | None, tier: AgentTier | None, actor: User
) -> None:
    """`agent_tier.assigned`: the agent buys at `tier` (None: at its own and list prices)."""
    record(
        Change(
            action="agent_tier.assigned",
            object_type="account",
            object_id=agent.pk,
            actor=actor,
            account_id=agent.pk,
            before={"tier": before.pk if before else None},
            after={"tier": tier.pk if tier else None},
        )
    )
