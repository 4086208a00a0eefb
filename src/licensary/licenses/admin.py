from django.contrib import admin

from licensary.core.admin import ReadOnlyAdminMixin
from licensary.licenses.models import License


@admin.register(License)
class LicenseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the lifecycle changes licenses, never a form."""

    list_display = ["id", "account", "product", "kind", "ip", "status", "period_end"]
    list_filter = ["status", "kind"]
    search_fields = ["ip", "account__email"]
