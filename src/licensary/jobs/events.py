"""What staff do with the dead-letter list, as events: each writes its audit entry and is
announced (`audit.bus`), in the caller's transaction."""

from typing import Any

from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.core.db import utc_text
from licensary.jobs.models import DeadJob


def dead_job_retried(dead: DeadJob, *, actor: Any) -> None:
    """`job.retried`: a dead job is queued again from its first attempt, and leaves the list."""
    record(
        Change(
            action="job.retried",
            object_type="dead_job",
            object_id=dead.pk,
            actor=actor,
            before={"resolved_at": None, "attempts": dead.attempts},
            after={
                "resolved_at": utc_text(dead.resolved_at) if dead.resolved_at else None,
                "task": dead.task_path,
            },
            reason="retried by staff",
        )
    )
