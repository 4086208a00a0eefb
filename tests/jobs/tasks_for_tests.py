"""Jobs that exist only for the tests: one that always fails, one that fails a few times, one
that records each run (a module-level log: the worker runs in the test's process), and one that
works in units with a heartbeat between them."""

from collections.abc import Callable

from licensary.jobs.tasks import durable_task, heartbeat

RUNS: list[str] = []
# What happens while one unit of work takes its time (the test moves the clock, a sweep reaps).
WHILE_A_UNIT_RUNS: list[Callable[[], None]] = []


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


@durable_task
def works_in_units(*, label: str, units: int) -> str:
    for n in range(units):
        heartbeat()
        RUNS.append(f"{label} {n}")
        for meanwhile in list(WHILE_A_UNIT_RUNS):
            meanwhile()
    return f"{label} done"
