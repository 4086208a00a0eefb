"""What the admin's pages share: read-only rows, and decision actions that run a service per
selected row and report each."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from licensary.core.errors import DomainError


class ReadOnlyAdminMixin:
    """Rows staff read in the console but never edit there (money, licenses, orders, the
    audit log): no add, change or delete, whoever asks. What may happen to them is an admin
    action calling the owning app's service, which writes the audit entry (rule 15)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def decide_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    decide: Callable[[Any], Any],
) -> None:
    """Call `decide(obj)` (a service) for each selected object; a refusal is shown, not raised."""
    name = queryset.model._meta.verbose_name.capitalize()
    for obj in queryset:
        try:
            result = decide(obj)
            status = getattr(result, "status", "done")
            model_admin.message_user(request, f"{name} {obj.pk}: {status}.")
        except DomainError as exc:
            model_admin.message_user(
                request, f"{name} {obj.pk}: {exc.detail}", level=messages.ERROR
            )
