"""A job whose worker died (left RUNNING past the lease) goes back to the queue and runs once;
a job that loses its worker too often is dead-lettered."""

import pytest
from django_tasks_db.models import DBTaskResult

from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from licensary.jobs.tasks import jobs_reap_stale
from licensary.licenses.sweep import sweep
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.jobs.tasks_for_tests import RUNS, records_run

LEASE = 300


def claimed_by_a_worker_that_dies(label: str, worker: str = "dead-worker") -> DBTaskResult:
    row = DBTaskResult.objects.get(pk=records_run.enqueue(label=label).id)
    row.claim(worker)  # what a worker does just before it runs the job ... and then it dies
    return row


@pytest.mark.django_db
def test_a_job_of_a_dead_worker_is_given_back_after_its_lease_and_runs_once(clock):
    row = claimed_by_a_worker_that_dies("orphan")
    clock.shift(LEASE)

    assert jobs_reap_stale() == 0  # still within its lease
    assert run_pending_jobs() == 0
    clock.shift(1)
    assert jobs_reap_stale() == 1
    assert run_pending_jobs() == 1

    row.refresh_from_db()
    assert RUNS == ["orphan"]
    assert (row.status, row.return_value) == ("SUCCESSFUL", "orphan ran")
    assert row.worker_ids[0] == "dead-worker"
    assert len(row.worker_ids) == 2
    clock.shift(LEASE * 2)
    assert jobs_reap_stale() == 0
    assert run_pending_jobs() == 0
    assert RUNS == ["orphan"]


@pytest.mark.django_db
def test_the_sweep_gives_stale_jobs_back(clock):
    row = claimed_by_a_worker_that_dies("orphan")
    clock.shift(LEASE + 1)

    sweep()

    row.refresh_from_db()
    assert row.status == "READY"
    assert run_pending_jobs() == 1
    assert RUNS == ["orphan"]


@pytest.mark.django_db
def test_a_job_that_loses_its_worker_five_times_is_dead_lettered(clock):
    row = claimed_by_a_worker_that_dies("cursed", worker="dead-1")
    for lost in range(2, 6):
        clock.shift(LEASE + 1)
        assert jobs_reap_stale() == 1
        row.refresh_from_db()
        assert row.status == "READY"
        row.claim(f"dead-{lost}")
    clock.shift(LEASE + 1)

    assert jobs_reap_stale() == 1

    row.refresh_from_db()
    assert (row.status, row.exception_class_path) == ("FAILED", "licensary.jobs.LeaseExpired")
    dead = DeadJob.objects.get()
    assert (dead.task_path, dead.arguments, dead.attempts) == (
        records_run.module_path,
        {"label": "cursed"},
        5,
    )
    assert run_pending_jobs() == 0
    assert RUNS == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_reapers_give_a_stale_job_back_once(clock):
    require_postgres()
    claimed_by_a_worker_that_dies("orphan")
    clock.shift(LEASE + 1)

    reaped = run_concurrently(lambda _: jobs_reap_stale(), 8)

    assert not errors(reaped), reaped
    assert sum(reaped) == 1
    ran = run_concurrently(lambda _: run_pending_jobs(), 4)
    assert sum(ran) == 1
    assert RUNS == ["orphan"]
