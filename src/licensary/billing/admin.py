from django.contrib import admin
from django.utils.html import format_html

from licensary.billing.models import (
    GatewayEvent,
    Invoice,
    InvoiceLine,
    Payment,
    Receipt,
    Refund,
)
from licensary.billing.receipts import receipt_confirm, receipt_reject
from licensary.billing.refunds import refund_approve, refund_reject
from licensary.core.admin import ReadOnlyAdminMixin, decide_each


class LineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "description", "amount", "license", "period_start", "period_end"]


class ReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Receipts beside the invoice they pay."""

    model = Receipt
    extra = 0
    can_delete = False
    fields = ["file_link", "reference", "status", "size", "created_at", "reason"]
    readonly_fields = fields

    @admin.display(description="file")
    def file_link(self, obj: Receipt) -> str:
        return format_html('<a href="/api/v1/receipts/{}/file">{}</a>', obj.pk,
                           obj.original_name or f"receipt {obj.pk}")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "account", "purpose", "status", "total", "currency", "due_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["number", "account__email"]
    inlines = [LineInline, ReceiptInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["invoice", "method", "amount", "currency", "created_at"]


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff see every gateway event; mismatches and unknown invoices are theirs to settle."""

    list_display = ["event_id", "gateway", "type", "outcome", "invoice", "received_at", "note"]
    list_filter = ["outcome", "gateway", "type"]
    search_fields = ["event_id", "payment_reference"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "invoice", "account", "status", "eligible", "currency", "rule",
                    "destination", "created_at"]
    list_filter = ["status", "rule", "destination"]
    readonly_fields = [f.name for f in Refund._meta.fields]
    actions = ["approve_to_credit", "approve_to_original", "reject"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False  # customers ask through the API; the policy answers

    @admin.action(description="Approve: pay to the account's credit")
    def approve_to_credit(self, request, queryset) -> None:  # noqa: ANN001
        decide_each(self, request, queryset, lambda r: refund_approve(
            refund=r, actor=request.user, destination="credit"))

    @admin.action(description="Approve: pay back through the gateway")
    def approve_to_original(self, request, queryset) -> None:  # noqa: ANN001
        decide_each(self, request, queryset, lambda r: refund_approve(
            refund=r, actor=request.user, destination="original"))

    @admin.action(description="Reject")
    def reject(self, request, queryset) -> None:  # noqa: ANN001
        decide_each(self, request, queryset, lambda r: refund_reject(
            refund=r, actor=request.user, note="rejected by staff"))


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Bank-transfer receipts waiting for staff: confirm (pays and delivers) or reject."""

    list_display = ["id", "invoice", "reference", "status", "size", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Receipt._meta.fields]
    actions = ["confirm", "reject"]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False  # customers upload through the API or the portal

    @admin.action(description="Confirm: record the invoice's total as paid by bank transfer")
    def confirm(self, request, queryset) -> None:  # noqa: ANN001
        decide_each(self, request, queryset,
                    lambda r: receipt_confirm(receipt=r, actor=request.user))

    @admin.action(description="Reject: the receipt does not show the payment")
    def reject(self, request, queryset) -> None:  # noqa: ANN001
        decide_each(self, request, queryset, lambda r: receipt_reject(
            receipt=r, actor=request.user, reason="The receipt does not show this payment."))
