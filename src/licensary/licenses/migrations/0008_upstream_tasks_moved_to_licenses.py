"""The upstream sync and the IP change's settling job moved from suppliers to licenses (issue
9: suppliers are adapters only). django-tasks finds a job by its import path, so jobs queued
before the upgrade (or running, which the reaper may give back) are pointed at the new path."""

from django.db import migrations

MOVED = {
    "licensary.suppliers.sync.sync_upstream": "licensary.licenses.upstream.sync_upstream",
    "licensary.suppliers.ip_change.ip_change_settle": (
        "licensary.licenses.upstream_ip_change.ip_change_settle"
    ),
}
QUEUED = ("READY", "RUNNING")


def _repoint(apps, moves: dict[str, str]) -> None:
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for old, new in moves.items():
        DBTaskResult.objects.filter(task_path=old, status__in=QUEUED).update(task_path=new)


def forwards(apps, schema_editor):
    _repoint(apps, MOVED)


def backwards(apps, schema_editor):
    _repoint(apps, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("licenses", "0007_ip_changes_period_start"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
