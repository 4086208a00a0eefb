from typing import Any

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest
from django.utils.html import format_html

from licensary.billing.models import (
    INVOICE_PAID,
    Dispute,
    GatewayEvent,
    Invoice,
    InvoiceLine,
    Payment,
    Receipt,
    Refund,
)
from licensary.billing.receipts import receipt_confirm, receipt_reject
from licensary.billing.refunds import refund_approve, refund_reject
from licensary.billing.services import dispute_mark_handled
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
    readonly_fields = fields = ("file_link", "reference", "status", "size", "created_at", "reason")

    @admin.display(description="file")
    def file_link(self, obj: Receipt) -> str:
        return format_html(
            '<a href="/api/v1/receipts/{}/file">{}</a>',
            obj.pk,
            obj.original_name or f"receipt {obj.pk}",
        )


class DisputeInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Chargebacks on the invoice's payment: a disputed invoice shows it."""

    model = Dispute
    extra = 0
    can_delete = False
    readonly_fields = fields = (
        "dispute_id",
        "state",
        "amount",
        "currency",
        "needs_staff",
        "note",
        "opened_at",
    )


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number", "account", "purpose", "status", "total", "currency", "due_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["number", "account__email"]
    inlines = [LineInline, ReceiptInline, DisputeInline]


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
    list_display = [
        "id",
        "invoice",
        "account",
        "status",
        "eligible",
        "currency",
        "rule",
        "destination",
        "created_at",
    ]
    list_filter = ["status", "rule", "destination"]
    readonly_fields = [f.name for f in Refund._meta.fields]
    actions = ["approve_to_credit", "approve_to_original", "reject"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # customers ask through the API; the policy answers

    @admin.action(description="Approve: pay to the account's credit")
    def approve_to_credit(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda r: refund_approve(refund=r, actor=request.user, destination="credit"),
        )

    @admin.action(description="Approve: pay back through the gateway")
    def approve_to_original(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda r: refund_approve(refund=r, actor=request.user, destination="original"),
        )

    @admin.action(description="Reject")
    def reject(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda r: refund_reject(refund=r, actor=request.user, note="rejected by staff"),
        )


class InvoiceAlreadyPaidFilter(admin.SimpleListFilter):
    """Pending receipts whose invoice got paid some other way: money only by a decision."""

    title = "invoice already paid"
    parameter_name = "invoice_already_paid"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Yes: confirming credits the account"), ("no", "No")]

    def queryset(self, request, queryset):
        flagged = Q(status=Receipt.Status.PENDING, invoice__status__in=INVOICE_PAID)
        if self.value() == "yes":
            return queryset.filter(flagged)
        if self.value() == "no":
            return queryset.exclude(flagged)
        return queryset


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Bank-transfer receipts waiting for staff: confirm (pays and delivers) or reject. One
    whose invoice is paid already is flagged; only "confirm to credit" turns it into credit."""

    list_display = [
        "id",
        "invoice",
        "reference",
        "status",
        "invoice_already_paid",
        "size",
        "created_at",
        "duplicate_of",
    ]
    list_filter = ["status", InvoiceAlreadyPaidFilter]
    list_select_related = ["invoice"]
    readonly_fields = [f.name for f in Receipt._meta.fields]
    actions = ["confirm", "confirm_to_credit", "reject"]

    @admin.display(boolean=True, description="invoice already paid")
    def invoice_already_paid(self, obj: Receipt) -> bool:
        return obj.invoice_already_paid

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # customers upload through the API or the portal

    @admin.action(description="Confirm: record the invoice's total as paid by bank transfer")
    def confirm(self, request, queryset) -> None:
        decide_each(
            self, request, queryset, lambda r: receipt_confirm(receipt=r, actor=request.user)
        )

    @admin.action(
        description="Confirm to credit: the money goes to the account's credit when "
        "the invoice is paid already or void"
    )
    def confirm_to_credit(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda r: receipt_confirm(receipt=r, actor=request.user, to_credit=True),
        )

    @admin.action(description="Reject: the receipt does not show the payment")
    def reject(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda r: receipt_reject(
                receipt=r, actor=request.user, reason="The receipt does not show this payment."
            ),
        )


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Chargebacks and inquiries from the gateways. Those needing staff: answer them in the
    gateway before `evidence_due_at`; a lost one's licenses are staff's to decide on."""

    list_display = [
        "dispute_id",
        "gateway",
        "invoice",
        "state",
        "amount",
        "currency",
        "needs_staff",
        "evidence_due_at",
        "note",
    ]
    list_filter = ["needs_staff", "state", "gateway"]
    list_select_related = ["invoice"]
    search_fields = ["dispute_id", "payment_reference", "invoice__number"]
    readonly_fields = [f.name for f in Dispute._meta.fields]
    actions = ["mark_handled"]

    @admin.action(description="Handled: answered in the gateway / licenses decided")
    def mark_handled(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda d: dispute_mark_handled(
                dispute=d, actor=request.user, note=f"Handled by {request.user.email} in the admin."
            ),
        )
