"""A dead job made the real way: `fails_twice` with two attempts allowed dies on its second
run (the worker dead-letters it), and a retry's third run succeeds."""

from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone

from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from tests.jobs.tasks_for_tests import fails_twice


def dead_job(settings: Any, label: str = "flaky") -> DeadJob:
    settings.LICENSARY = {**settings.LICENSARY, "JOB_MAX_ATTEMPTS": 2}
    fails_twice.enqueue(label=label)
    assert run_pending_jobs() == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        assert run_pending_jobs() == 1
    return DeadJob.objects.get(task_path=fails_twice.module_path, arguments={"label": label})
