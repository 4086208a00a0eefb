import signal
import threading

from django.core.management.base import BaseCommand

from licensary.licenses.sweep import sweep


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
        report = sweep(dry_run=dry_run, batch=batch, should_stop=stop.is_set)
        if dry_run:
            self.stdout.write("DRY RUN: nothing was changed. Due now:")
        self.stdout.write(report.table())
