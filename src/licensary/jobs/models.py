"""Jobs that failed every attempt, kept for staff (the dead-letter list)."""

from django.db import models


class DeadJob(models.Model):
    """A job that failed `JOB_MAX_ATTEMPTS` times (or lost its worker that often)."""

    task_path = models.CharField(max_length=200)
    arguments = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField()
    error = models.TextField()
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"dead {self.task_path} x{self.attempts}"
