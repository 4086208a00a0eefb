"""Staff's changes to the dead-letter list: a dead job retried."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from licensary.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from licensary.jobs import events as job_events
from licensary.jobs.models import DeadJob
from licensary.jobs.tasks import ATTEMPT, enqueue


def job_retry_dead(*, dead_job: DeadJob, actor: Any) -> DeadJob:
    """Queue `dead_job`'s task again with its arguments, from its first attempt (so it has
    every retry again), and take it off the list, in one transaction with its audit entry.

    Staff only. (jobs sits below accounts, so it asks the actor's own flag, which is what
    `accounts.policy.is_staff` reads.) Retrying it twice is `invalid_transition`: the first
    retry resolved it, with a compare-and-swap, so two staff clicking at once queue it once."""
    if not getattr(actor, "is_staff_account", False):
        raise PermissionDenied("Only staff retry dead jobs.")
    try:
        job = import_string(dead_job.task_path)
    except ImportError:
        raise ValidationFailed(
            f"Dead job {dead_job.pk}'s task {dead_job.task_path} no longer exists.",
            code="job_task_missing",
        ) from None
    arguments = {k: v for k, v in dead_job.arguments.items() if k != ATTEMPT}
    with transaction.atomic():
        now = timezone.now()
        if (
            DeadJob.objects.filter(pk=dead_job.pk, resolved_at__isnull=True).update(resolved_at=now)
            != 1
        ):
            raise InvalidTransition(f"Dead job {dead_job.pk} was retried already.")
        dead_job.resolved_at = now
        enqueue(job, **arguments)  # runs only if this commits
        job_events.dead_job_retried(dead_job, actor=actor)
    return dead_job
