"""A job that raises is retried with exponential backoff, and after the last attempt it lands
in the dead-letter list that staff see (RELIABILITY "Concurrency")."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from tests.jobs.tasks_for_tests import RUNS, always_fails, fails_twice

BACKOFF_SECONDS = [10, 40, 160, 640]  # after attempts 1, 2, 3, 4


def rows(task) -> list[DBTaskResult]:
    found = DBTaskResult.objects.filter(task_path=task.module_path)
    return sorted(found, key=lambda row: row.args_kwargs["kwargs"].get("attempt", 1))


@pytest.mark.django_db
def test_a_failing_job_is_retried_with_backoff_and_dead_lettered_after_five_attempts(clock):
    always_fails.enqueue(label="doomed")

    for attempt, wait in enumerate(BACKOFF_SECONDS, start=1):
        assert run_pending_jobs() == 1
        failed_at = timezone.now()
        retry = DBTaskResult.objects.get(task_path=always_fails.module_path, status="READY")
        assert retry.args_kwargs["kwargs"] == {"label": "doomed", "attempt": attempt + 1}
        assert retry.run_after == failed_at + timedelta(seconds=wait)
        assert not DeadJob.objects.exists()
        clock.shift(wait - 1)
        assert run_pending_jobs() == 0  # not due yet
        clock.shift(1)

    assert run_pending_jobs() == 1  # the fifth and last attempt

    assert RUNS == ["doomed"] * 5
    assert [(row.status, row.exception_class_path) for row in rows(always_fails)] == [
        ("FAILED", "tests.jobs.tasks_for_tests.JobFailed")
    ] * 5
    dead = DeadJob.objects.get()
    assert (dead.task_path, dead.arguments, dead.attempts) == (
        always_fails.module_path,
        {"label": "doomed"},
        5,
    )
    assert "JobFailed: doomed failed" in dead.error
    assert dead.resolved_at is None
    assert not DBTaskResult.objects.filter(status="READY").exists()
    clock.shift(3600)
    assert run_pending_jobs() == 0


@pytest.mark.django_db
def test_a_job_that_succeeds_on_its_third_attempt_is_not_dead_lettered(clock):
    fails_twice.enqueue(label="flaky")

    assert run_pending_jobs() == 1
    clock.shift(10)
    assert run_pending_jobs() == 1
    clock.shift(40)
    assert run_pending_jobs() == 1

    assert RUNS == ["flaky"] * 3
    assert [row.status for row in rows(fails_twice)] == ["FAILED", "FAILED", "SUCCESSFUL"]
    assert rows(fails_twice)[-1].return_value == "flaky done"
    assert not DeadJob.objects.exists()
    clock.shift(3600)
    assert run_pending_jobs() == 0


@pytest.mark.django_db
def test_the_attempt_limit_is_a_setting(clock, settings):
    settings.LICENSARY = {**settings.LICENSARY, "JOB_MAX_ATTEMPTS": 2}
    always_fails.enqueue(label="short-lived")

    assert run_pending_jobs() == 1
    clock.shift(10)
    assert run_pending_jobs() == 1

    assert DeadJob.objects.get().attempts == 2
    assert not DBTaskResult.objects.filter(status="READY").exists()
