"""Wholesale prices (rule 9's resellers): what each agent pays, set per agent or per tier of
agents, falling back to the list price. Staff set them; an agent reads its own list."""

from datetime import datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from ninja import Router, Schema, Status
from pydantic import StrictInt

from licensary.accounts.models import User
from licensary.accounts.policy import accounts_visible, require_staff
from licensary.catalog.models import AgentTier, Product, WholesalePrice
from licensary.catalog.selectors import (
    Quote,
    agent_tier_get,
    agent_tier_of,
    agent_tiers,
    list_quote,
    product_get_by_ref,
    quotes_for,
    tier_prices,
)
from licensary.catalog.services import (
    agent_tier_assign,
    agent_tier_create,
    wholesale_price_remove,
    wholesale_price_set,
)
from licensary.core.api import Cursor, Limit, MoneyOut, Page, get_visible, money, paginate
from licensary.core.errors import NotFound
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, Printable

router = Router(tags=["agents"])


class PriceIn(Schema):
    product: Annotated[str, Printable(64, min_length=1)]  # its id or slug
    price: StrictInt  # minor units of the product's currency, per period
    setup_fee: StrictInt = 0


class PriceOut(Schema):
    product: str
    product_slug: str
    product_name: str
    kind: str
    price: MoneyOut
    setup_fee: MoneyOut
    list_price: MoneyOut
    list_setup_fee: MoneyOut
    source: str  # agent | tier | list


class TierRef(Schema):
    id: str
    name: str


class AgentPricesOut(Page[PriceOut]):
    agent: str
    tier: TierRef | None


class TierIn(Schema):
    name: Annotated[str, Printable(100, min_length=1)]


class TierOut(TierRef):
    agents: int
    created_at: datetime


class TierAssignIn(Schema):
    tier: Id | None  # null: out of any tier


class TierPriceOut(Schema):
    product: str
    product_slug: str
    price: MoneyOut
    setup_fee: MoneyOut
    updated_at: datetime


def quote_out(quote: Quote) -> dict[str, Any]:
    product = quote.product
    return {
        "product": str(product.pk),
        "product_slug": product.slug,
        "product_name": product.name,
        "kind": product.kind,
        "price": money(quote.price, quote.currency),
        "setup_fee": money(quote.setup_fee, quote.currency),
        "list_price": product.price_money.as_dict(),
        "list_setup_fee": product.setup_fee_money.as_dict(),
        "source": quote.source,
    }


def row_out(row: WholesalePrice) -> dict[str, Any]:
    currency = row.product.currency
    return {
        "product": str(row.product_id),
        "product_slug": row.product.slug,
        "price": money(row.price, currency),
        "setup_fee": money(row.setup_fee, currency),
        "updated_at": row.updated_at,
    }


def tier_out(tier: AgentTier) -> dict[str, Any]:
    return {
        "id": str(tier.pk),
        "name": tier.name,
        "agents": tier.agent_count,  # type: ignore[attr-defined]  # agent_tiers() annotates it
        "created_at": tier.created_at,
    }


def _agent(request: AuthedRequest[User], agent_id: str) -> User:
    """The agent `agent_id` as the caller sees it: staff any, an agent itself; `not_found`
    for everyone else and for an account that is not an agent."""
    agent = get_visible(accounts_visible(request.auth), agent_id)
    if agent.kind != User.Kind.AGENT:
        raise NotFound("No such object.")
    return agent


def _price_page(
    products: QuerySet[Product], agent: User, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    page = paginate(products, limit=limit, cursor=cursor, render=lambda p: p, order=("pk",))
    quotes = quotes_for(page["items"], [agent.pk])
    page["items"] = [
        quote_out(quotes.get((p.pk, agent.pk)) or list_quote(p)) for p in page["items"]
    ]
    return page


@router.get("/agents/{agent_id}/prices", response=AgentPricesOut)
def agent_prices(
    request: AuthedRequest[User],
    agent_id: Id,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    """The agent's price for every product on sale: its own, its tier's, or the list price."""
    agent = _agent(request, agent_id)
    tier = agent_tier_of(agent)
    page = _price_page(Product.objects.filter(active=True), agent, limit=limit, cursor=cursor)
    return {
        **page,
        "agent": str(agent.pk),
        "tier": {"id": str(tier.pk), "name": tier.name} if tier else None,
    }


@router.post("/agents/{agent_id}/prices", response={200: PriceOut, 201: PriceOut})
def set_agent_price(request: AuthedRequest[User], agent_id: Id, payload: PriceIn) -> Status:
    """Staff set what one agent pays for a product (201 when new, 200 when changed)."""
    agent = _agent(request, agent_id)
    require_staff(request.auth, "set wholesale prices")
    product = product_get_by_ref(payload.product)
    row, created = wholesale_price_set(
        actor=request.auth,
        product=product,
        agent=agent,
        price=payload.price,
        setup_fee=payload.setup_fee,
    )
    quote = Quote(product=product, price=row.price, setup_fee=row.setup_fee, source="agent")
    return Status(201 if created else 200, quote_out(quote))


@router.delete("/agents/{agent_id}/prices/{product_id}", response={204: None})
def remove_agent_price(request: AuthedRequest[User], agent_id: Id, product_id: Id) -> Status:
    """Staff drop an agent's own price: it pays its tier's or the list price again."""
    agent = _agent(request, agent_id)
    require_staff(request.auth, "set wholesale prices")
    product = product_get_by_ref(product_id)
    wholesale_price_remove(actor=request.auth, product=product, agent=agent)
    return Status(204, None)


@router.post("/agents/{agent_id}/tier", response=AgentPricesOut)
def assign_agent_tier(request: AuthedRequest[User], agent_id: Id, payload: TierAssignIn) -> dict:
    """Staff put an agent in a tier (or out of one, `tier: null`); answers its price list."""
    agent = _agent(request, agent_id)
    require_staff(request.auth, "manage agent tiers")
    tier = agent_tier_get(payload.tier) if payload.tier is not None else None
    agent_tier_assign(actor=request.auth, agent=agent, tier=tier)
    return agent_prices(request, agent_id)


@router.get("/agent-tiers", response=Page[TierOut])
def list_tiers(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "manage agent tiers")
    return paginate(agent_tiers(), limit=limit, cursor=cursor, render=tier_out, order=("pk",))


@router.post("/agent-tiers", response={201: TierOut})
def create_tier(request: AuthedRequest[User], payload: TierIn) -> Status:
    tier = agent_tier_create(actor=request.auth, name=payload.name)
    return Status(201, tier_out(agent_tier_get(str(tier.pk))))


@router.get("/agent-tiers/{tier_id}/prices", response=Page[TierPriceOut])
def list_tier_prices(
    request: AuthedRequest[User],
    tier_id: Id,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    require_staff(request.auth, "manage agent tiers")
    tier = agent_tier_get(tier_id)
    return paginate(tier_prices(tier), limit=limit, cursor=cursor, render=row_out, order=("pk",))


@router.post("/agent-tiers/{tier_id}/prices", response={200: TierPriceOut, 201: TierPriceOut})
def set_tier_price(request: AuthedRequest[User], tier_id: Id, payload: PriceIn) -> Status:
    require_staff(request.auth, "set wholesale prices")
    tier = agent_tier_get(tier_id)
    row, created = wholesale_price_set(
        actor=request.auth,
        product=product_get_by_ref(payload.product),
        tier=tier,
        price=payload.price,
        setup_fee=payload.setup_fee,
    )
    return Status(201 if created else 200, row_out(row))


@router.delete("/agent-tiers/{tier_id}/prices/{product_id}", response={204: None})
def remove_tier_price(request: AuthedRequest[User], tier_id: Id, product_id: Id) -> Status:
    require_staff(request.auth, "set wholesale prices")
    tier = agent_tier_get(tier_id)
    wholesale_price_remove(actor=request.auth, product=product_get_by_ref(product_id), tier=tier)
    return Status(204, None)
