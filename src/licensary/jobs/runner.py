"""Running jobs: the worker loop with the registered periodic work beside it, and a drain for
tests and commands."""

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import OperationalError, close_old_connections
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.compat import TaskContext, task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from licensary.jobs import periodic
from licensary.jobs.health import BEAT_SECONDS, periodic_finished, periodic_started, worker_beat
from licensary.jobs.periodic import Periodic
from licensary.jobs.tasks import Lease, lease_begin, lease_end, lease_finish
from licensary.jobs.wakeup import JobsWakeup

logger = logging.getLogger(__name__)


def claim_next(worker_id: str) -> DBTaskResult | None:
    """Claim the next job that is due (SKIP LOCKED: two workers never claim the same one)."""
    ready = DBTaskResult.objects.ready().filter(backend_name="default")
    with exclusive_transaction(ready.db):
        result = ready.get_locked()
        if result is not None:
            result.claim(worker_id)
    return result


class LeasedWorker(Worker):
    """django-tasks-db's worker, running each job under its lease: the job's `heartbeat()`
    extends it, and only a worker that still holds it records the outcome. The library's
    `run_task` saves the outcome whatever happened meanwhile, so a worker whose job was given
    back and run by another would overwrite that run's outcome (and retry it once more).

    Between empty polls it waits on `JobsWakeup` rather than sleeping: on PostgreSQL an
    enqueue wakes it at once, and the interval is only the fallback poll."""

    wakeup: JobsWakeup | None = None

    def run(self) -> None:
        logger.info("worker %s starts (poll every %.3g s)", self.worker_id, self.interval)
        if self.startup_delay and self.interval:
            time.sleep(random.random() * min(self.interval, 1.0))  # no thundering herd
        self.wakeup = JobsWakeup()
        self.wakeup.listen()  # before the first look: no notification falls in between
        try:
            while self.running:
                close_old_connections()  # a connection dropped while waiting is replaced
                try:
                    result = claim_next(self.worker_id)
                except OperationalError as exc:
                    if not is_locked_database_exception(exc):
                        raise
                    result = None  # SQLite's write lock is busy: look again
                if result is not None:
                    self.run_task(result)
                    continue
                close_old_connections()
                if self.running:
                    self.wakeup.wait(self.interval)
        finally:
            self.wakeup.close()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        lease = Lease(job_id=db_task_result.pk, since=db_task_result.started_at)
        token = lease_begin(lease)
        self.running_task = True
        sender: type | None = None
        try:
            try:
                task = db_task_result.task
                task_result = db_task_result.task_result
                sender = type(task.get_backend())
                task_started.send(sender=sender, task_result=task_result)
                args = (
                    (TaskContext(task_result=task_result),) if task.takes_context else ()
                ) + tuple(task_result.args)
                value = task.call(*args, **task_result.kwargs)
            except BaseException as exc:
                recorded = lease_finish(lease, error=exc)
            else:
                try:
                    recorded = lease_finish(lease, value=value)
                except (TypeError, ValueError) as exc:  # a return value JSON cannot hold
                    recorded = lease_finish(lease, error=exc)
            if not recorded:
                logger.warning(
                    "job %s was taken over by another worker; its outcome is that worker's",
                    db_task_result.pk,
                )
            elif sender is not None:
                db_task_result.refresh_from_db()
                task_finished.send(sender=sender, task_result=db_task_result.task_result)
        finally:
            lease_end(token)
            self.running_task = False
            self._run_tasks += 1


def poll_interval() -> float:
    """Seconds between a worker's looks at the queue when nothing wakes it."""
    return settings.LICENSARY["JOB_POLL_MS"] / 1000


def make_worker(
    *, batch: bool, interval: float | None = None, worker_id: str | None = None
) -> LeasedWorker:
    return LeasedWorker(
        queue_names=["*"],
        interval=poll_interval() if interval is None else interval,
        batch=batch,
        backend_name="default",
        startup_delay=not batch,
        max_tasks=None,
        worker_id=worker_id or get_random_string(24),
        excluded_queue_names=[],
    )


def run_pending_jobs() -> int:
    """Run every job that is due now, then return how many ran (tests, `worker --once`).

    The library's own loop closes "old" connections between jobs, which would also close a
    test's transaction; this is the same claim-and-run without it.
    """
    worker = make_worker(batch=True, interval=0)
    ran = 0
    while True:
        result = claim_next(worker.worker_id)
        if result is None:
            return ran
        worker.run_task(result)
        ran += 1


def run_worker(*, interval: float | None = None, every: Mapping[str, float] | None = None) -> None:
    """The long-running worker: jobs in this thread, and beside them one thread for each
    registered periodic work (the lifecycle sweep every minute); `every` overrides a work's
    interval by its name."""
    stop = threading.Event()
    worker = make_worker(batch=False, interval=interval)
    threading.Thread(
        target=beat_every,
        kwargs={"worker_id": worker.worker_id, "seconds": BEAT_SECONDS, "stop": stop},
        name="licensary-beat",
        daemon=True,
    ).start()
    for work in periodic.registered():
        seconds = (every or {}).get(work.name, work.every_seconds)
        threading.Thread(
            target=run_every,
            args=(work,),
            kwargs={"seconds": seconds, "stop": stop},
            name=f"licensary-{work.name}",
            daemon=True,
        ).start()
    worker.configure_signals()
    try:
        worker.run()
    finally:
        stop.set()


def beat_every(*, worker_id: str, seconds: float, stop: threading.Event) -> None:
    """The worker's sign of life every `seconds` until it stops (readiness wants one younger
    than two minutes); a beat that fails (the database away) is logged and tried again."""
    started_at = timezone.now()
    while not stop.is_set():
        try:
            worker_beat(worker_id=worker_id, started_at=started_at)
        except Exception:
            logger.exception("worker %s: could not record its beat", worker_id)
        finally:
            close_old_connections()
        stop.wait(seconds)


def run_every(work: Periodic, *, seconds: float, stop: threading.Event) -> None:
    """Rounds of `work` until `stop` is set, `seconds` apart; a failed round is logged and the
    next one tries again. Each round gives its database connection back (the thread's own)."""
    while not stop.is_set():
        try:
            run_round(work, stop.is_set)
        finally:
            close_old_connections()
        stop.wait(seconds)


def run_round(work: Periodic, should_stop: Callable[[], bool] = lambda: False) -> None:
    """One round of `work`, its start and end recorded (readiness reads when the sweep last
    ran); a failed round is logged, recorded as failed, and never raised. The record is only
    a report: if it cannot be written (the database away), the round still runs."""
    _record(work.name, periodic_started, name=work.name)
    try:
        said = work.run(should_stop)
    except Exception as exc:
        logger.exception("%s failed; retrying next round", work.name)
        _record(
            work.name,
            periodic_finished,
            name=work.name,
            failed=True,
            said=f"{type(exc).__name__}: {exc}",
        )
        return
    if said:
        logger.info("%s: %s", work.name, said)
    _record(work.name, periodic_finished, name=work.name, failed=False, said=said or "")


def _record(work: str, write: Callable[..., None], **fields: object) -> None:
    try:
        write(**fields)
    except Exception:
        logger.exception("%s: could not record its round", work)
