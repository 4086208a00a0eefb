"""Governance in the console: bans as actions on accounts (one per reason of rule 6), claims
approved or rejected and transfers canceled, each through its service."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from licensary.accounts.admin import UserAdmin
from licensary.accounts.models import User
from licensary.core.admin import ReadOnlyAdminMixin, decide_each
from licensary.governance.bans import account_ban
from licensary.governance.claims import claim_approve, claim_reject
from licensary.governance.models import Claim, Transfer
from licensary.governance.transfers import transfer_cancel


def _ban_action(reason: str) -> Callable[..., None]:
    def ban(model_admin: Any, request: HttpRequest, queryset: Any) -> None:
        actor = request.user
        assert isinstance(actor, User)  # the admin site lets no one in signed out
        decide_each(
            model_admin,
            request,
            queryset,
            lambda user: account_ban(
                account=user,
                actor=actor,
                reason=reason,
                note=f"Banned in the console: {reason}.",
            ),
        )

    ban.__name__ = f"ban_{reason}"
    return admin.action(description=f"Ban: {reason.replace('_', ' ')} (cancels everything)")(ban)


class GovernedUserAdmin(UserAdmin):
    """The accounts' admin with the ban actions (accounts cannot import governance)."""

    actions = ["warn_agent", *(_ban_action(reason) for reason in User.BanReason.values)]


admin.site.unregister(User)
admin.site.register(User, GovernedUserAdmin)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "license", "from_account", "to_account", "status", "expires_at"]
    list_filter = ["status"]
    actions = ["cancel"]

    @admin.action(description="Cancel the pending transfer")
    def cancel(self, request, queryset) -> None:
        decide_each(
            self, request, queryset, lambda t: transfer_cancel(transfer=t, actor=request.user)
        )


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "product", "ip", "claimant", "owner", "status", "owner_deadline"]
    list_filter = ["status"]
    exclude = ["challenge"]
    actions = ["approve", "reject"]

    @admin.action(description="Approve (cancels the old license, makes the claim order)")
    def approve(self, request, queryset) -> None:
        decide_each(self, request, queryset, lambda c: claim_approve(claim=c, actor=request.user))

    @admin.action(description="Reject: the claim is not proven to staff's satisfaction")
    def reject(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda c: claim_reject(
                claim=c, reason="Not proven to staff's satisfaction.", actor=request.user
            ),
        )
