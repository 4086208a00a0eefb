from django.contrib import admin

from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount", "currency"]


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "memo", "created_at", "invoice"]
    inlines = [PostingInline]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


admin.site.register(LedgerAccount)
