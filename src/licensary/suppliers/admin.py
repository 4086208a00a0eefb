from django.contrib import admin

from licensary.suppliers.models import SupplierAccount, UpstreamOperation


@admin.register(SupplierAccount)
class SupplierAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "base_url", "active", "last_alert", "last_alert_at"]
    exclude = ["password_sealed"]  # set through the API; never shown


@admin.register(UpstreamOperation)
class UpstreamOperationAdmin(admin.ModelAdmin):
    list_display = ["op_id", "supplier", "operation", "ip", "status", "attempts", "created_at"]
    list_filter = ["status", "operation", "supplier"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
