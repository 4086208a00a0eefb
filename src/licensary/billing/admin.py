from django.contrib import admin, messages

from licensary.billing.models import GatewayEvent, Invoice, InvoiceLine, Payment, Refund
from licensary.billing.refunds import refund_approve, refund_reject
from licensary.core.errors import DomainError


class LineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "description", "amount", "license", "period_start", "period_end"]


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "account", "purpose", "status", "total", "currency", "due_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["number", "account__email"]
    inlines = [LineInline]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["invoice", "method", "amount", "currency", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(GatewayEvent)
class GatewayEventAdmin(admin.ModelAdmin):
    """Staff see every gateway event; mismatches and unknown invoices are theirs to settle."""

    list_display = ["event_id", "gateway", "type", "outcome", "invoice", "received_at", "note"]
    list_filter = ["outcome", "gateway", "type"]
    search_fields = ["event_id", "payment_reference"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "invoice", "account", "status", "eligible", "currency", "rule",
                    "destination", "created_at"]
    list_filter = ["status", "rule", "destination"]
    readonly_fields = [f.name for f in Refund._meta.fields]
    actions = ["approve_to_credit", "approve_to_original", "reject"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False  # customers ask through the API; the policy answers

    def _decide(self, request, queryset, **kwargs) -> None:  # noqa: ANN001, ANN003
        for refund in queryset:
            try:
                if kwargs.get("reject"):
                    refund_reject(refund=refund, actor=request.user, note="rejected by staff")
                else:
                    refund_approve(refund=refund, actor=request.user, **kwargs)
                self.message_user(request, f"Refund {refund.pk} done.")
            except DomainError as exc:
                self.message_user(request, f"Refund {refund.pk}: {exc.detail}",
                                  level=messages.ERROR)

    @admin.action(description="Approve: pay to the account's credit")
    def approve_to_credit(self, request, queryset) -> None:  # noqa: ANN001
        self._decide(request, queryset, destination="credit")

    @admin.action(description="Approve: pay back through the gateway")
    def approve_to_original(self, request, queryset) -> None:  # noqa: ANN001
        self._decide(request, queryset, destination="original")

    @admin.action(description="Reject")
    def reject(self, request, queryset) -> None:  # noqa: ANN001
        self._decide(request, queryset, reject=True)
