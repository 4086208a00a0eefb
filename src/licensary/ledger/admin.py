from django.contrib import admin

from licensary.core.admin import ReadOnlyAdminMixin
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting


class PostingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Posting
    extra = 0
    readonly_fields = ["account", "amount", "currency"]


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: money moves only through `post_entry`, called by the billing services."""

    list_display = ["id", "kind", "memo", "created_at", "invoice"]
    inlines = [PostingInline]


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: an account's credit is found by its book's key, owner and currency."""

    list_display = ["key", "code", "owner", "currency"]
    list_filter = ["code", "currency"]
    search_fields = ["key", "owner__email"]
