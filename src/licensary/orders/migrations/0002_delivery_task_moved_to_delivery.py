"""The delivery job moved from orders.services to orders.delivery (issue 9). django-tasks
finds a job by its import path, so jobs queued before the upgrade (or running, which the
reaper may give back) are pointed at the new path."""

from django.db import migrations

MOVED = {"licensary.orders.services.deliver_order": "licensary.orders.delivery.deliver_order"}
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
        ("orders", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
