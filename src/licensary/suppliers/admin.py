from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from licensary.core.admin import ReadOnlyAdminMixin, decide_each
from licensary.suppliers.models import SupplierAccount, UpstreamOperation
from licensary.suppliers.services import supplier_update


@admin.register(SupplierAccount)
class SupplierAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Supplier accounts are made and edited through the API (`POST`/`PATCH /suppliers`,
    audited); here staff see their health and switch them off or on, through the same service."""

    list_display = ["name", "kind", "base_url", "active", "last_alert", "last_alert_at"]
    exclude = ["password_sealed"]  # set through the API; never shown
    actions = ["switch_off", "switch_on"]

    def _switch(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        assert request.user.is_authenticated
        user = request.user
        decide_each(
            self,
            request,
            queryset,
            lambda s: supplier_update(actor=user, name=s.name, changes={"active": active}),
        )

    @admin.action(description="Switch the suppliers off (no delivery through them)")
    def switch_off(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, active=False)

    @admin.action(description="Switch the suppliers on")
    def switch_on(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, active=True)


@admin.register(UpstreamOperation)
class UpstreamOperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The intent log of upstream calls: written by the calls themselves, read here."""

    list_display = ["op_id", "supplier", "operation", "ip", "status", "attempts", "created_at"]
    list_filter = ["status", "operation", "supplier"]
