from django.contrib import admin

from licensary.accounts.models import ApiToken, TermsAcceptance, TermsVersion, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "kind", "status", "identity", "agent", "date_joined"]
    list_filter = ["kind", "status", "identity"]
    search_fields = ["email"]
    readonly_fields = ["password", "status", "date_joined", "last_login"]
    exclude = ["user_permissions", "groups"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]


@admin.register(TermsVersion)
class TermsVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "published_at", "published_by"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False  # a published version is never edited; publish a new one


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(admin.ModelAdmin):
    list_display = ["user", "terms", "accepted_at", "ip"]

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
