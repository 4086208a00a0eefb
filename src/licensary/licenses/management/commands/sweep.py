import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from licensary.licenses.sweep import sweep


class _Bar:
    """The sweep's progress as a rich bar per step (on a terminal only)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, step: str, due: int | None) -> None:
        self.tasks[step] = self.progress.add_task(step, total=due)

    def advance(self, step: str, done: int) -> None:
        task = self.tasks[step]
        self.progress.advance(task, done)
        if self.progress.tasks[task].total is None:  # not counted beforehand: done now
            self.progress.update(task, total=self.progress.tasks[task].completed)


@contextmanager
def _progress_bar() -> Iterator[_Bar | None]:
    """A bar on standard error when it is a terminal, erased at the end so that the table is
    all that stays; nothing otherwise (cron, pipes, logs)."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _Bar(progress)


class Command(BaseCommand):
    help = "Run every lifecycle transition that is due (renewal invoices, block, cancel, delete)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would change and change nothing."
        )
        parser.add_argument("--batch", type=int, default=None, help="Rows per transaction.")

    def handle(self, *args, dry_run: bool, batch: int | None, **options) -> None:
        stop = threading.Event()
        # SIGTERM finishes the batch in hand, then stops; the next run carries on from there.
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        with _progress_bar() as bar:
            report = sweep(dry_run=dry_run, batch=batch, should_stop=stop.is_set, progress=bar)
        if dry_run:
            self.stdout.write("DRY RUN: nothing was changed. Due now:")
        self.stdout.write(report.table())
