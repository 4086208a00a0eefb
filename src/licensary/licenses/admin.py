from django.contrib import admin

from licensary.licenses.models import License


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "product", "kind", "ip", "status", "period_end"]
    list_filter = ["status", "kind"]
    search_fields = ["ip", "account__email"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False  # the lifecycle changes licenses, never a form
