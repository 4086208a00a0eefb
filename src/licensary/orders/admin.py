from django.contrib import admin

from licensary.core.admin import ReadOnlyAdminMixin, decide_each
from licensary.orders.delivery import order_retry
from licensary.orders.models import Order
from licensary.orders.services import order_reject


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Held orders are the review queue: filter on status "on hold", oldest first. Decisions
    go through the review services (the actions), never a form."""

    list_display = [
        "id",
        "account",
        "product",
        "ip",
        "status",
        "hold_reason",
        "held_at",
        "hold_detail",
    ]
    list_filter = ["status", "hold_reason"]
    search_fields = ["ip", "account__email"]
    ordering = ["held_at", "id"]
    actions = ["retry", "reject", "reject_to_original"]

    @admin.action(description="Retry delivery of the held orders")
    def retry(self, request, queryset) -> None:
        decide_each(self, request, queryset, lambda o: order_retry(order=o, actor=request.user))

    @admin.action(description="Reject the held orders (refund to credit in full)")
    def reject(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda o: order_reject(order=o, actor=request.user, note="rejected in admin"),
        )

    @admin.action(description="Reject the held orders (refund in full to the original payment)")
    def reject_to_original(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda o: order_reject(
                order=o, actor=request.user, note="rejected in admin", destination="original"
            ),
        )
