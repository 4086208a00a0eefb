from django.contrib import admin, messages
from django.http import HttpRequest

from licensary.catalog.models import AgentTier, AgentTierMember, Product, WholesalePrice
from licensary.catalog.services import (
    CREATE_ONLY,
    EDITABLE,
    agent_tier_assign,
    agent_tier_create,
    product_create,
    product_update,
    wholesale_price_remove,
    wholesale_price_set,
)
from licensary.core.errors import DomainError


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "price", "setup_fee", "currency", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "slug"]

    def has_delete_permission(self, request: HttpRequest, obj: Product | None = None) -> bool:
        return False  # a product leaves the shop by `active: false`, audited like any edit

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> list[str]:
        return list(CREATE_ONLY) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        # The admin goes through the same services as the API (one write path).
        assert request.user.is_authenticated  # the admin site lets no one in signed out
        fields = EDITABLE if change else EDITABLE + CREATE_ONLY
        values = {k: form.cleaned_data.get(k) for k in fields if k in form.cleaned_data}
        try:
            if change:
                product_update(product=Product.objects.get(pk=obj.pk), actor=request.user, **values)
            else:
                obj.pk = product_create(actor=request.user, **values).pk
        except DomainError as exc:
            messages.error(request, exc.detail)


@admin.register(AgentTier)
class AgentTierAdmin(admin.ModelAdmin):
    """Tiers are made here (or over the API); a tier keeps its name."""

    list_display = ["name", "created_at"]
    fields = ["name"]

    def has_change_permission(self, request: HttpRequest, obj: AgentTier | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: AgentTier | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AgentTier, form, change: bool) -> None:
        assert request.user.is_authenticated
        try:
            obj.pk = agent_tier_create(actor=request.user, name=form.cleaned_data["name"]).pk
        except DomainError as exc:
            messages.error(request, exc.detail)


@admin.register(AgentTierMember)
class AgentTierMemberAdmin(admin.ModelAdmin):
    """Which tier an agent buys at; saved and removed through `agent_tier_assign`."""

    list_display = ["agent", "tier", "assigned_at"]
    fields = ["agent", "tier"]
    raw_id_fields = ["agent"]
    actions = None  # no bulk delete: each removal is audited

    def save_model(self, request: HttpRequest, obj: AgentTierMember, form, change: bool) -> None:
        assert request.user.is_authenticated
        try:
            agent_tier_assign(
                actor=request.user, agent=form.cleaned_data["agent"], tier=form.cleaned_data["tier"]
            )
        except DomainError as exc:
            messages.error(request, exc.detail)

    def delete_model(self, request: HttpRequest, obj: AgentTierMember) -> None:
        assert request.user.is_authenticated
        agent_tier_assign(actor=request.user, agent=obj.agent, tier=None)


@admin.register(WholesalePrice)
class WholesalePriceAdmin(admin.ModelAdmin):
    """An agent's or a tier's price for a product; saved and removed through the services."""

    list_display = ["product", "agent", "tier", "price", "setup_fee", "updated_at"]
    list_filter = ["tier"]
    fields = ["product", "agent", "tier", "price", "setup_fee"]
    raw_id_fields = ["agent"]
    actions = None  # no bulk delete: each removal is audited

    def get_readonly_fields(
        self, request: HttpRequest, obj: WholesalePrice | None = None
    ) -> list[str]:
        return ["product", "agent", "tier"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: WholesalePrice, form, change: bool) -> None:
        assert request.user.is_authenticated
        data = form.cleaned_data
        try:
            row, _ = wholesale_price_set(
                actor=request.user,
                product=obj.product if change else data["product"],
                agent=obj.agent if change else data.get("agent"),
                tier=obj.tier if change else data.get("tier"),
                price=data["price"],
                setup_fee=data["setup_fee"],
            )
            obj.pk = row.pk
        except DomainError as exc:
            messages.error(request, exc.detail)

    def delete_model(self, request: HttpRequest, obj: WholesalePrice) -> None:
        assert request.user.is_authenticated
        wholesale_price_remove(
            actor=request.user, product=obj.product, agent=obj.agent, tier=obj.tier
        )
