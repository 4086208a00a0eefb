from django.contrib import admin

from licensary.core.admin import ReadOnlyAdminMixin
from licensary.jobs.models import DeadJob


@admin.register(DeadJob)
class DeadJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The dead-letter list, as the worker left it."""

    list_display = ["id", "task_path", "attempts", "created_at", "resolved_at"]
