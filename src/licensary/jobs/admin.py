from django.contrib import admin

from licensary.jobs.models import DeadJob


@admin.register(DeadJob)
class DeadJobAdmin(admin.ModelAdmin):
    list_display = ["id", "task_path", "attempts", "created_at", "resolved_at"]
