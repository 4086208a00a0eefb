"""Reads of the catalog: what a caller sees, a product named by slug or id, and what a payer
is charged for a product (the list price, or an agent's wholesale price)."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from licensary.accounts.models import User
from licensary.catalog.models import AgentTier, AgentTierMember, Product, WholesalePrice
from licensary.core.api import parse_id
from licensary.core.errors import NotFound


def visible_products(user: User) -> QuerySet[Product]:
    qs = Product.objects.all()
    return qs if user.is_staff_account else qs.filter(active=True)


def product_get_by_ref(ref: str) -> Product:
    """A product by its slug, or by its id when `ref` is all digits."""
    qs = Product.objects.all()
    by_id = ref.isascii() and ref.isdigit()
    product = qs.filter(pk=parse_id(ref)).first() if by_id else qs.filter(slug=ref).first()
    if product is None:
        raise NotFound(f"No product {ref!r}.")
    return product


@dataclass(frozen=True)
class Quote:
    """What a payer is charged for one product, in the product's currency, and why:
    `source` is `agent` (its own wholesale price), `tier` (its tier's) or `list`."""

    product: Product
    price: int
    setup_fee: int
    source: str

    @property
    def currency(self) -> str:
        return self.product.currency


def list_quote(product: Product) -> Quote:
    return Quote(product=product, price=product.price, setup_fee=product.setup_fee, source="list")


def quotes_for(
    products: Iterable[Product], payer_ids: Iterable[int]
) -> dict[tuple[int, int], Quote]:
    """The wholesale quotes of the agents among `payer_ids` for `products`, keyed by
    (product id, payer id), in two queries; a pair that is absent pays the list price."""
    by_id = {product.pk: product for product in products}
    payers = set(payer_ids)
    if not by_id or not payers:
        return {}
    tier_of = dict(
        AgentTierMember.objects.filter(agent_id__in=payers).values_list("agent_id", "tier_id")
    )
    rows = WholesalePrice.objects.filter(product_id__in=by_id).filter(
        Q(agent_id__in=payers) | Q(tier_id__in=set(tier_of.values()))
    )
    by_agent: dict[tuple[int, int], WholesalePrice] = {}
    by_tier: dict[tuple[int, int], WholesalePrice] = {}
    for row in rows:
        if row.agent_id is not None:
            by_agent[(row.product_id, row.agent_id)] = row
        else:
            assert row.tier_id is not None
            by_tier[(row.product_id, row.tier_id)] = row
    quotes: dict[tuple[int, int], Quote] = {}
    for product_id, product in by_id.items():
        for payer in payers:
            found, source = by_agent.get((product_id, payer)), "agent"
            if found is None and payer in tier_of:
                found, source = by_tier.get((product_id, tier_of[payer])), "tier"
            if found is not None:
                quotes[(product_id, payer)] = Quote(
                    product=product, price=found.price, setup_fee=found.setup_fee, source=source
                )
    return quotes


def price_for(product: Product, payer: User) -> Quote:
    """What `payer` is charged for `product`: an agent its wholesale price where one is set,
    everyone else (and an agent without one) the list price."""
    if payer.kind != User.Kind.AGENT:
        return list_quote(product)
    return quotes_for([product], [payer.pk]).get((product.pk, payer.pk)) or list_quote(product)


def agent_price_list(agent: User) -> list[Quote]:
    """The agent's price for every product on sale, list price where it has no other."""
    products = list(Product.objects.filter(active=True))
    quotes = quotes_for(products, [agent.pk])
    return [quotes.get((p.pk, agent.pk)) or list_quote(p) for p in products]


def agent_tier_of(agent: User) -> AgentTier | None:
    member = AgentTierMember.objects.filter(agent=agent).select_related("tier").first()
    return member.tier if member else None


def tier_prices(tier: AgentTier) -> QuerySet[WholesalePrice]:
    return WholesalePrice.objects.filter(tier=tier).select_related("product")


def agent_tiers() -> QuerySet[AgentTier]:
    """Every tier, with `agent_count`: how many agents buy at it."""
    return AgentTier.objects.annotate(agent_count=Count("members"))


def agent_tier_get(tier_id: str) -> AgentTier:
    tier = agent_tiers().filter(pk=parse_id(tier_id)).first()
    if tier is None:
        raise NotFound("No such agent tier.")
    return tier
