"""What the worker says about itself: its beat (a row per worker, renewed every
`JOB_BEAT_SECONDS`) and the last round of each periodic work. Readiness and the metrics read
these; only the worker writes them."""

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from licensary.jobs.models import DeadJob, PeriodicRun, WorkerBeat

BEAT_SECONDS = 30.0


def worker_beat(*, worker_id: str, started_at: datetime) -> None:
    """This worker is alive now (an upsert: one row per worker)."""
    WorkerBeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "seen_at": timezone.now(),
        },
    )


def periodic_started(*, name: str) -> None:
    PeriodicRun.objects.update_or_create(
        name=name, defaults={"started_at": timezone.now(), "finished_at": None}
    )


def periodic_finished(*, name: str, failed: bool, said: str) -> None:
    now = timezone.now()
    fields: dict[str, object] = {"finished_at": now, "failed": failed, "said": said[:500]}
    if not failed:
        fields["succeeded_at"] = now
    PeriodicRun.objects.filter(name=name).update(**fields)


def last_worker_beat() -> datetime | None:
    seen: datetime | None = WorkerBeat.objects.aggregate(latest=Max("seen_at"))["latest"]
    return seen


@dataclass(frozen=True)
class LastRound:
    name: str
    started_at: datetime
    finished_at: datetime | None
    succeeded_at: datetime | None
    failed: bool


def last_rounds() -> dict[str, LastRound]:
    return {
        run.name: LastRound(
            name=run.name,
            started_at=run.started_at,
            finished_at=run.finished_at,
            succeeded_at=run.succeeded_at,
            failed=run.failed,
        )
        for run in PeriodicRun.objects.all()
    }


@dataclass(frozen=True)
class QueueState:
    ready: int  # jobs due now that no worker has claimed
    oldest_ready_since: datetime | None  # since when the longest-waiting of them is due
    dead: int  # dead letters staff have not resolved


def queue_state() -> QueueState:
    """The queue in two queries (the metrics scrape reads it every few seconds)."""
    ready = DBTaskResult.objects.ready().aggregate(
        count=Count("id"), since=Min(Coalesce("run_after", "enqueued_at"))
    )
    return QueueState(
        ready=ready["count"],
        oldest_ready_since=ready["since"],
        dead=DeadJob.objects.filter(resolved_at__isnull=True).count(),
    )
