"""The staff console's dead-letter list: staff see each dead job with its last error and
retry it (once); everybody else meets the permission page and changes nothing."""

from collections.abc import Iterator
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from licensary.accounts.models import User
from licensary.jobs.models import DeadJob
from tests.jobs.dead import dead_job
from tests.jobs.tasks_for_tests import RUNS
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead(settings: Any) -> Iterator[DeadJob]:
    RUNS.clear()  # fails_twice counts its runs by label in this log
    yield dead_job(settings)
    RUNS.clear()


def test_staff_see_a_dead_job_with_its_last_error(staff: User, dead: DeadJob) -> None:
    page = Browser(staff).get("/portal/staff/dead-jobs/").content.decode()
    assert f'data-testid="dead-{dead.pk}"' in page
    assert "tests.jobs.tasks_for_tests.fails_twice" in page
    assert "JobFailed: flaky failed (run 2)" in page
    overview = Browser(staff).get("/portal/staff/").content.decode()
    assert 'data-testid="count-dead-jobs">1<' in overview


def test_retrying_a_dead_job_queues_it_once(staff: User, dead: DeadJob) -> None:
    browser = Browser(staff)
    first = browser.post(f"/portal/staff/dead-jobs/{dead.pk}/retry/")
    page = browser.get("/portal/staff/dead-jobs/").content.decode()
    second = browser.post(f"/portal/staff/dead-jobs/{dead.pk}/retry/")

    assert (first.status_code, first["Location"]) == (302, "/portal/staff/dead-jobs/")
    assert "The job is queued again, from its first attempt." in page
    assert "empty card" in page
    assert second.status_code == 404  # it left the list
    assert DBTaskResult.objects.filter(status="READY").count() == 1


@pytest.mark.parametrize("who", ["alice", "carol", "dave"])
def test_only_staff_reach_the_dead_jobs(who: str, request: Any, dead: DeadJob) -> None:
    browser = Browser(request.getfixturevalue(who))
    assert browser.get("/portal/staff/dead-jobs/").status_code == 403
    assert browser.post(f"/portal/staff/dead-jobs/{dead.pk}/retry/").status_code == 403
    assert DeadJob.objects.get(pk=dead.pk).resolved_at is None


def test_a_retry_without_its_csrf_token_is_refused(staff: User, dead: DeadJob) -> None:
    browser = Browser(staff)
    assert browser.client.post(f"/portal/staff/dead-jobs/{dead.pk}/retry/").status_code == 403
    assert DeadJob.objects.get(pk=dead.pk).resolved_at is None
