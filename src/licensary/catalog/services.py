"""Every change to the catalog."""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.catalog import events as catalog_events
from licensary.catalog.models import AgentTier, AgentTierMember, Product, WholesalePrice
from licensary.core.errors import NotFound, ValidationFailed
from licensary.core.money import default_currency, require_amount, require_currency
from licensary.core.text import column

EDITABLE = (
    "slug",
    "name",
    "kind",
    "manufacturer",
    "period_days",
    "price",
    "setup_fee",
    "requires_identity",
    "suppliers",
    "upstream_package",
    "refund_rule",
    "refund_days",
    "active",
)
# Chosen when the product is made, never changed: its invoices and credit are in it.
CREATE_ONLY = ("currency",)


def _validate(values: dict[str, Any]) -> None:
    if values.get("kind") not in Product.Kind.values:
        raise ValidationFailed("kind must be 'own' or 'manufacturer'.")
    for money_field in ("price", "setup_fee"):
        require_amount(values.get(money_field, 0), name=money_field, allow_zero=True)
    period = settings.LICENSARY["PERIOD_DAYS"]
    if values.get("period_days", period) != period:
        raise ValidationFailed(f"Every period is {period} days (rule 4); period_days is {period}.")
    if values.get("refund_rule", "none") not in ("none", "within_days", "manual"):
        raise ValidationFailed("refund_rule is one of none, within_days, manual.")
    if not 0 <= values.get("refund_days", 0) <= 3660:
        raise ValidationFailed("refund_days must be between 0 and 3660.")
    suppliers = values.get("suppliers") or []
    if values["kind"] == Product.Kind.OWN:
        if suppliers not in ([], ["own"]):
            raise ValidationFailed("An own product is delivered by the 'own' supplier only.")
        values["suppliers"] = ["own"]
    else:
        if not values.get("manufacturer"):
            raise ValidationFailed("A manufacturer product names its manufacturer.")
        if not suppliers or "own" in suppliers:
            raise ValidationFailed("A manufacturer product lists its suppliers in order.")
        if len(set(suppliers)) != len(suppliers):
            raise ValidationFailed("A supplier appears twice in the failover order.")


def _slug(text: str) -> str:
    """The slug of a name or a given slug, cut at a word to fit its column (a 200-character
    name makes a longer slug, and NFKD can lengthen text: "\ufb00" is "ff")."""
    slug = slugify(text)
    limit = column(Product, "slug")
    if len(slug) > limit:
        cut = slug[: limit + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:limit]
    return slug


def product_create(*, actor: User, **values: Any) -> Product:
    """A new product; priced in the platform's currency unless `currency` names another."""
    require_staff(actor, "edit the catalog")
    values = {k: v for k, v in values.items() if k in EDITABLE + CREATE_ONLY and v is not None}
    values["currency"] = require_currency(values.get("currency") or default_currency())
    values["slug"] = _slug(values.get("slug") or values.get("name", ""))
    if not values["slug"] or not values.get("name", "").strip():
        raise ValidationFailed("A product needs a name and a slug.")
    _validate(values)
    with transaction.atomic():
        try:
            with transaction.atomic():
                product = Product.objects.create(**values)
        except IntegrityError as exc:
            raise ValidationFailed(
                f"A product with slug {values['slug']!r} exists.", code="slug_taken", status=409
            ) from exc
        catalog_events.product_created(product, values=values, actor=actor)
    return product


def product_update(*, product: Product, actor: User, **changes: Any) -> Product:
    require_staff(actor, "edit the catalog")
    changes = {k: v for k, v in changes.items() if k in EDITABLE and v is not None}
    if "slug" in changes:  # made a slug as on creation; "" or "!!!" make none
        changes["slug"] = _slug(changes["slug"])
    if changes.get("slug") == "" or ("name" in changes and not changes["name"].strip()):
        raise ValidationFailed("A product keeps a name and a slug.")
    if "kind" in changes and changes["kind"] != product.kind and product.licenses.exists():
        raise ValidationFailed(
            "A product with licenses keeps its kind (rule 9); make a new product instead.",
            code="invalid_transition",
            status=409,
        )
    before = {k: getattr(product, k) for k in changes}
    values = {k: getattr(product, k) for k in EDITABLE} | changes
    _validate(values)
    with transaction.atomic():
        for key, value in changes.items():
            setattr(product, key, values[key] if key == "suppliers" else value)
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError as exc:
            raise ValidationFailed("That slug is taken.", code="slug_taken", status=409) from exc
        catalog_events.product_updated(product, before=before, changes=changes, actor=actor)
    return product


def _price_owner(agent: User | None, tier: AgentTier | None) -> dict[str, Any]:
    if (agent is None) == (tier is None):
        raise ValidationFailed("A wholesale price is for one agent or one tier.")
    if agent is not None and agent.kind != User.Kind.AGENT:
        raise NotFound("No such agent.")
    return {"agent": agent} if agent is not None else {"tier": tier}


def wholesale_price_set(
    *,
    actor: User,
    product: Product,
    price: int,
    setup_fee: int,
    agent: User | None = None,
    tier: AgentTier | None = None,
) -> tuple[WholesalePrice, bool]:
    """Set what `agent` (or every agent of `tier`) pays for `product`, per period and as
    setup fee, in the product's currency; returns the row and whether it is new. Invoices
    already issued keep their amounts."""
    require_staff(actor, "set wholesale prices")
    owner = _price_owner(agent, tier)
    require_amount(price, name="price", allow_zero=True)
    require_amount(setup_fee, name="setup_fee", allow_zero=True)
    with transaction.atomic():
        row = WholesalePrice.objects.select_for_update().filter(product=product, **owner).first()
        before = {"price": row.price, "setup_fee": row.setup_fee} if row else None
        now = timezone.now()
        if row is None:
            try:
                with transaction.atomic():
                    row = WholesalePrice.objects.create(
                        product=product, price=price, setup_fee=setup_fee, updated_at=now, **owner
                    )
            except IntegrityError:  # a concurrent first set: this one updates it
                row = WholesalePrice.objects.select_for_update().get(product=product, **owner)
                before = {"price": row.price, "setup_fee": row.setup_fee}
        if before is not None:
            WholesalePrice.objects.filter(pk=row.pk).update(
                price=price, setup_fee=setup_fee, updated_at=now
            )
            row.price, row.setup_fee, row.updated_at = price, setup_fee, now
        catalog_events.wholesale_price_changed(row, before=before, actor=actor)
    return row, before is None


def wholesale_price_remove(
    *, actor: User, product: Product, agent: User | None = None, tier: AgentTier | None = None
) -> None:
    """Drop the agent's (or tier's) price for `product`: it pays its tier's or the list
    price from now on. `not_found` when there is none."""
    require_staff(actor, "set wholesale prices")
    owner = _price_owner(agent, tier)
    with transaction.atomic():
        row = WholesalePrice.objects.select_for_update().filter(product=product, **owner).first()
        if row is None:
            raise NotFound("No wholesale price for that product here.")
        before = {"price": row.price, "setup_fee": row.setup_fee}
        row.delete()
        catalog_events.wholesale_price_changed(row, before=before, removed=True, actor=actor)


def agent_tier_create(*, actor: User, name: str) -> AgentTier:
    require_staff(actor, "manage agent tiers")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name: a tier needs a name.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                tier = AgentTier.objects.create(name=name, created_at=timezone.now())
        except IntegrityError as exc:
            raise ValidationFailed(
                f"A tier named {name!r} exists.", code="name_taken", status=409
            ) from exc
        catalog_events.agent_tier_created(tier, actor=actor)
    return tier


def agent_tier_assign(*, actor: User, agent: User, tier: AgentTier | None) -> User:
    """Put `agent` in `tier` (None: out of any tier)."""
    require_staff(actor, "manage agent tiers")
    if agent.kind != User.Kind.AGENT:
        raise NotFound("No such agent.")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=agent.pk).values_list("pk").get()
        member = AgentTierMember.objects.filter(agent=agent).select_related("tier").first()
        before = member.tier if member else None
        if before == tier:
            return agent
        if tier is None:
            AgentTierMember.objects.filter(agent=agent).delete()
        elif member is None:
            AgentTierMember.objects.create(agent=agent, tier=tier, assigned_at=timezone.now())
        else:
            AgentTierMember.objects.filter(pk=member.pk).update(
                tier=tier, assigned_at=timezone.now()
            )
        catalog_events.agent_tier_assigned(agent, before=before, tier=tier, actor=actor)
    return agent
