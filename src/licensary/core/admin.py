"""What the admin's decision actions share: run a service per selected row, report each."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from licensary.core.errors import DomainError


def decide_each(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet,
                decide: Callable[[Any], Any]) -> None:
    """Call `decide(obj)` (a service) for each selected object; a refusal is shown, not raised."""
    name = queryset.model._meta.verbose_name.capitalize()
    for obj in queryset:
        try:
            result = decide(obj)
            status = getattr(result, "status", "done")
            model_admin.message_user(request, f"{name} {obj.pk}: {status}.")
        except DomainError as exc:
            model_admin.message_user(request, f"{name} {obj.pk}: {exc.detail}",
                                     level=messages.ERROR)
