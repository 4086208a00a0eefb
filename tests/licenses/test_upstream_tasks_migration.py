"""Migration licenses.0008: jobs of the upstream sync and of the IP change's settling job that
were queued before those moved from suppliers to licenses run from their new import path."""

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django_tasks_db.models import DBTaskResult

from licensary.licenses.upstream import sync_upstream
from licensary.licenses.upstream_ip_change import ip_change_settle

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module(
    "licensary.licenses.migrations.0008_upstream_tasks_moved_to_licenses"
)
OLD_SYNC = "licensary.suppliers.sync.sync_upstream"
OLD_SETTLE = "licensary.suppliers.ip_change.ip_change_settle"


def queued_under(path: str, task: Any, **kwargs: Any) -> str:
    """The id of a job of `task` as a release before the move queued it (under `path`)."""
    job_id = task.enqueue(**kwargs).id
    DBTaskResult.objects.filter(pk=job_id).update(task_path=path)
    return job_id


def paths() -> dict[str, str]:
    return {str(pk): path for pk, path in DBTaskResult.objects.values_list("pk", "task_path")}


def test_jobs_queued_before_the_move_run_from_licenses_and_move_back_on_reverse():
    sync = queued_under(OLD_SYNC, sync_upstream, license_ids=[1])
    settle = queued_under(OLD_SETTLE, ip_change_settle, op_id="op-1")
    finished = queued_under(OLD_SYNC, sync_upstream, license_ids=[2])
    DBTaskResult.objects.filter(pk=finished).update(status="SUCCESSFUL")

    MIGRATION.forwards(django_apps, None)

    assert paths()[sync] == sync_upstream.module_path == "licensary.licenses.upstream.sync_upstream"
    assert paths()[settle] == ip_change_settle.module_path
    assert ip_change_settle.module_path == "licensary.licenses.upstream_ip_change.ip_change_settle"
    assert paths()[finished] == OLD_SYNC  # a finished job never runs again: left as it ran

    MIGRATION.backwards(django_apps, None)

    assert (paths()[sync], paths()[settle]) == (OLD_SYNC, OLD_SETTLE)
