"""The task backend: django-tasks-db's, waking listening workers on each enqueue."""

from typing import Any

from django_tasks_db.backend import DatabaseBackend, TaskResult
from django_tasks_db.models import DBTaskResult

from licensary.jobs.wakeup import jobs_notify


class NotifyingDatabaseBackend(DatabaseBackend):
    """Every enqueue, however it is spelled (`enqueue`, `job.using(...).enqueue`, a retry),
    writes the job row and, in the same transaction, the NOTIFY that wakes the workers
    (`jobs.wakeup`)."""

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        result: TaskResult = super().enqueue(task, args, kwargs)
        jobs_notify(
            using=DBTaskResult.objects.db, queue_name=task.queue_name, run_after=task.run_after
        )
        return result
