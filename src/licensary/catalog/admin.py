from django.contrib import admin, messages
from django.http import HttpRequest

from licensary.catalog.models import Product
from licensary.catalog.services import CREATE_ONLY, EDITABLE, product_create, product_update
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
