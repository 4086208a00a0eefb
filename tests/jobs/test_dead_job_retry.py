"""Staff retry a dead job (`job_retry_dead`): it is queued again with its arguments from its
first attempt, leaves the dead-letter list, and the retry is one audit entry; a second retry,
or one by anyone but staff, changes nothing."""

from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.core.errors import InvalidTransition, PermissionDenied
from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from licensary.jobs.selectors import dead_jobs_open
from licensary.jobs.services import job_retry_dead
from tests.jobs.dead import dead_job
from tests.jobs.tasks_for_tests import RUNS

pytestmark = pytest.mark.django_db


def test_a_retried_dead_job_runs_again_from_its_first_attempt_and_leaves_the_list(
    settings: Any, staff: User
) -> None:
    dead = dead_job(settings)
    assert list(dead_jobs_open()) == [dead]

    job_retry_dead(dead_job=dead, actor=staff)

    queued = DBTaskResult.objects.get(status="READY")
    assert queued.args_kwargs["kwargs"] == {"label": "flaky"}  # attempt 1 again
    assert list(dead_jobs_open()) == []
    assert run_pending_jobs() == 1
    assert RUNS == ["flaky"] * 3  # two deaths, then the retry that works
    [entry] = AuditEntry.objects.filter(action="job.retried")
    assert (entry.object_type, entry.object_id, entry.actor_id) == (
        "dead_job",
        str(dead.pk),
        staff.pk,
    )
    assert entry.after["task"] == dead.task_path


def test_a_dead_job_is_retried_once_however_often_staff_ask(settings: Any, staff: User) -> None:
    dead = dead_job(settings)
    job_retry_dead(dead_job=dead, actor=staff)

    with pytest.raises(InvalidTransition):
        job_retry_dead(dead_job=DeadJob.objects.get(pk=dead.pk), actor=staff)

    assert DBTaskResult.objects.filter(status="READY").count() == 1
    assert AuditEntry.objects.filter(action="job.retried").count() == 1


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_only_staff_retry_a_dead_job(settings: Any, who: str, request: Any) -> None:
    dead = dead_job(settings)

    with pytest.raises(PermissionDenied):
        job_retry_dead(dead_job=dead, actor=request.getfixturevalue(who))

    assert list(dead_jobs_open()) == [dead]
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert not AuditEntry.objects.filter(action="job.retried").exists()
