"""Jobs that exist only for the tests: one that always fails, one that fails a few times, and
one that records each run (a module-level log: the worker runs in the test's process)."""

from licensary.jobs.tasks import durable_task

RUNS: list[str] = []


class JobFailed(Exception):
    pass


@durable_task
def always_fails(*, label: str) -> None:
    RUNS.append(label)
    raise JobFailed(f"{label} failed")


@durable_task
def fails_twice(*, label: str) -> str:
    RUNS.append(label)
    if RUNS.count(label) <= 2:
        raise JobFailed(f"{label} failed (run {RUNS.count(label)})")
    return f"{label} done"


@durable_task
def records_run(*, label: str) -> str:
    RUNS.append(label)
    return f"{label} ran"
