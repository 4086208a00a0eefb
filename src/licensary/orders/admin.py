from django.contrib import admin

from licensary.orders.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "product", "ip", "status", "hold_reason", "held_at"]
    list_filter = ["status", "hold_reason"]
    search_fields = ["ip", "account__email"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False  # decisions go through the review queue (retry, approve, reject)
