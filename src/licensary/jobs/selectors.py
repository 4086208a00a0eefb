"""Reads of the dead-letter list, for staff."""

from django.db.models import QuerySet

from licensary.jobs.models import DeadJob


def dead_jobs_open() -> QuerySet[DeadJob]:
    """The dead jobs nobody has retried yet, newest first."""
    return DeadJob.objects.filter(resolved_at__isnull=True).order_by("-created_at", "-pk")
