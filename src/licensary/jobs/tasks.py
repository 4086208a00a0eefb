"""Durable jobs on django-tasks' database backend, with retries, backoff and a dead-letter list.

django-tasks gives durable rows claimed with SKIP LOCKED; it does not retry a failed task or
recover one whose worker died (upstream issue #46). `durable_task` adds the retry with
exponential backoff, and `jobs_reap_stale` (run by every sweep) returns the jobs of dead
workers to the queue after their lease.

The lease runs from the job row's `started_at` (set when a worker claims it) for
`JOB_LEASE_SECONDS`. A job that works in units calls `heartbeat()` between them, which moves
`started_at` to now, so a long batch keeps its lease; and a worker whose job was given back
and claimed by another learns it there (`LeaseLost`) and stops. Only the lease holder records
a job's outcome (see `jobs.runner.LeasedWorker`), retries it or dead-letters it.
"""

import contextvars
import functools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task as django_task
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import retry

from licensary.jobs.models import DeadJob

logger = logging.getLogger(__name__)
ATTEMPT = "attempt"


@dataclass
class Lease:
    """A worker's hold on one running job: the job row's `started_at` as the worker set it."""

    job_id: Any
    since: datetime


class LeaseLost(Exception):
    """The job's lease ran out and another worker has taken it over: stop, and leave its
    outcome (and any retry) to that worker."""


_current_lease: contextvars.ContextVar[Lease | None] = contextvars.ContextVar(
    "licensary_job_lease", default=None
)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.LICENSARY["JOB_LEASE_SECONDS"])


def lease_begin(lease: Lease) -> contextvars.Token[Lease | None]:
    """The job the calling thread runs from now on (`heartbeat()` extends its lease)."""
    return _current_lease.set(lease)


def lease_end(token: contextvars.Token[Lease | None]) -> None:
    _current_lease.reset(token)


def _held(lease: Lease) -> QuerySet[DBTaskResult]:
    # Still ours while nobody claimed it since: running, or given back by a reaper that found
    # the lease expired but not yet claimed by another worker (a claim moves `started_at`).
    return DBTaskResult.objects.filter(
        pk=lease.job_id,
        started_at=lease.since,
        status__in=[TaskResultStatus.RUNNING, TaskResultStatus.READY],
    )


def heartbeat() -> None:
    """Say that the running job is alive: its lease runs again from now. Call it between
    units of work, outside any transaction. Raises `LeaseLost` when another worker has
    taken the job over. Outside a worker (a job function called directly) it does nothing."""
    lease = _current_lease.get()
    if lease is None:
        return
    now = timezone.now()
    if now - lease.since < lease_length() / 10:
        return  # renewed moments ago: nobody can have taken it over since
    if _held(lease).update(status=TaskResultStatus.RUNNING, started_at=now) != 1:
        raise LeaseLost(f"job {lease.job_id} was taken over by another worker")
    lease.since = now


def lease_held() -> bool:
    """Whether the running job is still the calling worker's (always, outside a worker)."""
    lease = _current_lease.get()
    return lease is None or _held(lease).exists()


@retry()
def lease_finish(lease: Lease, *, value: Any = None, error: BaseException | None = None) -> bool:
    """Record the job's outcome if the lease is still ours; False when another worker took
    the job over (its outcome is that worker's to record)."""
    fields: dict[str, Any] = {
        "finished_at": timezone.now(),
        "return_value": None,
        "exception_class_path": "",
        "traceback": "",
    }
    if error is None:
        fields |= {"status": TaskResultStatus.SUCCESSFUL, "return_value": value}
    else:
        fields |= {
            "status": TaskResultStatus.FAILED,
            "exception_class_path": f"{type(error).__module__}.{type(error).__qualname__}",
            "traceback": "".join(traceback.format_exception(error)),
        }
    return _held(lease).update(**fields) == 1


def backoff(attempt: int) -> timedelta:
    """10 s, 40 s, 160 s, ... capped at an hour."""
    return timedelta(seconds=min(10 * 4 ** (attempt - 1), 3600))


# A job someone is waiting on (a paid order's delivery) runs before the others queued (mails,
# webhooks, upstream syncs), which a burst of payments would otherwise put in front of it.
URGENT = 10


def durable_task(
    fn: Callable[..., Any] | None = None,
    *,
    on_give_up: Callable[..., None] | None = None,
    priority: int = 0,
) -> Any:
    """A django-tasks task that is retried with backoff and dead-lettered at the last attempt.

    Tasks take keyword arguments only (JSON-serialisable), so that a retry re-sends them as is.
    `on_give_up(**kwargs)` runs after the last failed attempt (e.g. to hold an order). Workers
    take the jobs of a higher `priority` first (`URGENT`), else in the order they were queued.
    """
    if fn is None:
        return functools.partial(durable_task, on_give_up=on_give_up, priority=priority)

    @functools.wraps(fn)
    def run(**kwargs: Any) -> Any:
        attempt = int(kwargs.pop(ATTEMPT, 1))
        try:
            return fn(**kwargs)
        except Exception as exc:
            if isinstance(exc, LeaseLost) or not lease_held():
                raise  # another worker runs this job now; its retries are its own
            limit = settings.LICENSARY["JOB_MAX_ATTEMPTS"]
            if attempt >= limit:
                DeadJob.objects.create(
                    task_path=job.module_path,
                    arguments=kwargs,
                    attempts=attempt,
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

    job = django_task(priority=priority)(run)
    return job


def enqueue(job: Any, **kwargs: Any) -> None:
    """Add a job in the caller's transaction: it exists if and only if the change commits."""
    job.enqueue(**kwargs)


def jobs_reap_stale() -> int:
    """Give the jobs of workers that died (running past the lease with no heartbeat) back to
    the queue."""
    lease = lease_length()
    limit = settings.LICENSARY["JOB_MAX_ATTEMPTS"]
    now = timezone.now()
    reaped = 0
    for row in DBTaskResult.objects.running().filter(started_at__lt=now - lease)[:500]:
        if len(row.worker_ids) >= limit:
            changed = DBTaskResult.objects.filter(
                pk=row.pk, status="RUNNING", started_at=row.started_at
            ).update(
                status="FAILED",
                finished_at=now,
                exception_class_path="licensary.jobs.LeaseExpired",
                traceback="worker lost the job too many times",
            )
            if changed:
                DeadJob.objects.create(
                    task_path=row.task_path,
                    arguments=row.args_kwargs.get("kwargs", {}),
                    attempts=len(row.worker_ids),
                    error="worker lost the job (lease expired)",
                    created_at=now,
                )
        else:
            changed = DBTaskResult.objects.filter(
                pk=row.pk, status="RUNNING", started_at=row.started_at
            ).update(status="READY")
        reaped += changed
    return reaped


def enqueue_after(job: Any, at: datetime, **kwargs: Any) -> None:
    """`enqueue`, for a job that must not run before `at` (a scheduled retry of its own)."""
    job.using(run_after=at).enqueue(**kwargs)
