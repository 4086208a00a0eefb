from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from licensary.accounts.agents import agent_warn
from licensary.accounts.identity import identity_reject, identity_verify
from licensary.accounts.models import (
    AgentReport,
    AgentWarning,
    ApiToken,
    IdentityDocument,
    TermsAcceptance,
    TermsVersion,
    User,
)
from licensary.accounts.services import account_update, terms_publish, token_revoke
from licensary.core.admin import ReadOnlyAdminMixin, decide_each

# Shown, never edited here: kind, superuser flag and currency (the credit is kept in it) would
# change what an account is and hide its credit; the rest each have their own use case.
ACCOUNT_READ_ONLY = [
    "kind",
    "status",
    "identity",
    "agent",
    "currency",
    "is_staff",
    "is_superuser",
    "is_active",
    "password",
    "date_joined",
    "last_login",
    "password_changed_at",
]


class AgentReportInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Reports about this agent (rule 9)."""

    model = AgentReport
    fk_name = "agent"
    fields = ["created_at", "reporter", "reason", "details"]
    readonly_fields = ["created_at", "reporter", "reason", "details"]
    extra = 0


class AgentWarningInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Staff's warnings to this agent; from the third it is flagged for review."""

    model = AgentWarning
    fk_name = "agent"
    fields = ["created_at", "staff", "reason"]
    readonly_fields = ["created_at", "staff", "reason"]
    extra = 0


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Accounts: the email is the one field edited here, through `account_update` (audited).
    Accounts are made through the API or `licensary createsuperuser`, never deleted."""

    actions = ["warn_agent"]

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list[type]:
        # An agent's reports and warnings, for staff judging it (rule 9).
        if obj is not None and obj.kind == User.Kind.AGENT:
            return [AgentReportInline, AgentWarningInline]
        return []

    @admin.action(description="Warn the agent (the third warning flags it for review)")
    def warn_agent(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        decide_each(
            self,
            request,
            queryset,
            lambda agent: agent_warn(
                agent=agent, actor=actor, reason="Warned in the console after review."
            ),
        )

    list_display = ["email", "kind", "status", "identity", "agent", "date_joined"]
    list_filter = ["kind", "status", "identity"]
    search_fields = ["email"]
    fields = ["email", *ACCOUNT_READ_ONLY]
    readonly_fields = ACCOUNT_READ_ONLY

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        assert request.user.is_authenticated  # the admin site lets no one in signed out
        account_update(
            account=User.objects.get(pk=obj.pk),
            actor=request.user,
            email=form.cleaned_data["email"],
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Tokens are made by their owner (shown once), and revoked here or by the owner; a token
    never moves to another account."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = request.user
        assert actor.is_authenticated  # the admin site lets no one in signed out
        decide_each(self, request, queryset, lambda token: token_revoke(token=token, actor=actor))


@admin.register(TermsVersion)
class TermsVersionAdmin(admin.ModelAdmin):
    """Publishing here is `terms_publish` (numbered, audited); a published version is never
    edited or deleted: publish a new one."""

    list_display = ["version", "published_at", "published_by"]

    def get_fields(self, request: HttpRequest, obj: TermsVersion | None = None) -> tuple[str, ...]:
        return ("text",) if obj is None else ("version", "text", "published_at", "published_by")

    def get_readonly_fields(
        self, request: HttpRequest, obj: TermsVersion | None = None
    ) -> list[str]:
        return [] if obj is None else ["version", "text", "published_at", "published_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_staff_account", False))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: TermsVersion, form: ModelForm, change: bool
    ) -> None:
        assert request.user.is_authenticated  # the admin site lets no one in signed out
        published = terms_publish(text=form.cleaned_data["text"], actor=request.user)
        # The admin's own log and redirect name the row the service made.
        obj.pk, obj.version, obj.published_at = (
            published.pk,
            published.version,
            published.published_at,
        )
        obj.published_by = published.published_by


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "terms", "accepted_at", "ip"]


@admin.register(IdentityDocument)
class IdentityDocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Identity checks (rule 12): verify or reject through the services."""

    list_display = ["id", "account", "status", "content_type", "submitted_at", "decided_at"]
    list_filter = ["status"]
    exclude = ["stored_name", "sha256"]
    actions = ["verify", "reject"]

    @admin.action(description="Verify the account's identity")
    def verify(self, request: HttpRequest, queryset: QuerySet[IdentityDocument]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        decide_each(
            self, request, queryset, lambda d: identity_verify(account=d.account, actor=actor)
        )

    @admin.action(description="Reject: the document does not prove the identity")
    def reject(self, request: HttpRequest, queryset: QuerySet[IdentityDocument]) -> None:
        actor = request.user
        assert isinstance(actor, User)
        decide_each(
            self,
            request,
            queryset,
            lambda d: identity_reject(
                account=d.account,
                actor=actor,
                reason="The document does not prove the identity; submit a clearer one.",
            ),
        )
