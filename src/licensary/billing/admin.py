from django.contrib import admin

from licensary.billing.models import Invoice, InvoiceLine, Payment


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
