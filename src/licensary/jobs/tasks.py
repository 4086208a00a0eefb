"""Durable jobs on django-tasks' database backend, with retries, backoff and a dead-letter list.

django-tasks gives durable rows claimed with SKIP LOCKED; it does not retry a failed task or
recover one whose worker died (upstream issue #46). `durable_task` adds the retry with
exponential backoff, and `jobs_reap_stale` (run by every sweep) returns the jobs of dead
workers to the queue after their lease.
"""

import functools
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task as django_task
from django_tasks_db.models import DBTaskResult

from licensary.jobs.models import DeadJob

logger = logging.getLogger(__name__)
ATTEMPT = "attempt"


def backoff(attempt: int) -> timedelta:
    """10 s, 40 s, 160 s, ... capped at an hour."""
    return timedelta(seconds=min(10 * 4 ** (attempt - 1), 3600))


def durable_task(fn: Callable[..., Any] | None = None, *,
                 on_give_up: Callable[..., None] | None = None) -> Any:
    """A django-tasks task that is retried with backoff and dead-lettered at the last attempt.

    Tasks take keyword arguments only (JSON-serialisable), so that a retry re-sends them as is.
    `on_give_up(**kwargs)` runs after the last failed attempt (e.g. to hold an order).
    """
    if fn is None:
        return functools.partial(durable_task, on_give_up=on_give_up)

    @functools.wraps(fn)
    def run(**kwargs: Any) -> Any:
        attempt = int(kwargs.pop(ATTEMPT, 1))
        try:
            return fn(**kwargs)
        except Exception as exc:
            limit = settings.LICENSARY["JOB_MAX_ATTEMPTS"]
            if attempt >= limit:
                DeadJob.objects.create(
                    task_path=job.module_path, arguments=kwargs, attempts=attempt,
                    error="".join(traceback.format_exception(exc))[-5000:],
                    created_at=timezone.now(),
                )
                logger.error("job %s dead after %d attempts", job.module_path, attempt)
                if on_give_up is not None:
                    on_give_up(**kwargs)
            else:
                job.using(run_after=timezone.now() + backoff(attempt)).enqueue(
                    **kwargs, **{ATTEMPT: attempt + 1}
                )
            raise

    job = django_task()(run)
    return job


def enqueue(job: Any, **kwargs: Any) -> None:
    """Add a job in the caller's transaction: it exists if and only if the change commits."""
    job.enqueue(**kwargs)


def jobs_reap_stale() -> int:
    """Give the jobs of workers that died (running past the lease) back to the queue."""
    lease = timedelta(seconds=settings.LICENSARY["JOB_LEASE_SECONDS"])
    limit = settings.LICENSARY["JOB_MAX_ATTEMPTS"]
    now = timezone.now()
    reaped = 0
    for row in DBTaskResult.objects.running().filter(started_at__lt=now - lease)[:500]:
        if len(row.worker_ids) >= limit:
            changed = DBTaskResult.objects.filter(
                pk=row.pk, status="RUNNING", started_at=row.started_at
            ).update(status="FAILED", finished_at=now,
                     exception_class_path="licensary.jobs.LeaseExpired",
                     traceback="worker lost the job too many times")
            if changed:
                DeadJob.objects.create(
                    task_path=row.task_path, arguments=row.args_kwargs.get("kwargs", {}),
                    attempts=len(row.worker_ids), error="worker lost the job (lease expired)",
                    created_at=now,
                )
        else:
            changed = DBTaskResult.objects.filter(
                pk=row.pk, status="RUNNING", started_at=row.started_at
            ).update(status="READY")
        reaped += changed
    return reaped
