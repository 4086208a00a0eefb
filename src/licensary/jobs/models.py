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


class WorkerBeat(models.Model):
    """A running worker's sign of life, written every `JOB_BEAT_SECONDS` (readiness reads the
    newest; a worker that stopped beating is gone, its row stays as the last time it was seen)."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} on {self.hostname} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


class PeriodicRun(models.Model):
    """The last round of one periodic work (the sweep, ...) any worker ran: when it started and
    ended and whether it failed, for readiness and the metrics."""

    name = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False)
    said = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.name} last started {self.started_at:%Y-%m-%d %H:%M:%S}"
