from django.core.management.base import BaseCommand, CommandError

from licensary.jobs.runner import run_pending_jobs, run_worker


class Command(BaseCommand):
    help = "Run the worker: durable jobs, and the lifecycle sweep every minute."

    def add_arguments(self, parser):
        parser.add_argument(
            "--sweep-every",
            type=float,
            default=None,
            help="Seconds between sweeps (default 60, as the licenses app registers it).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between looks at the queue when no enqueue woke the worker "
            "(default LICENSARY_JOB_POLL_MS / 1000; on PostgreSQL an enqueue wakes it at once).",
        )
        parser.add_argument("--once", action="store_true", help="Run the jobs due now, then exit.")

    def handle(
        self, *args, sweep_every: float | None, interval: float | None, once: bool, **options
    ) -> None:
        if once:
            run_pending_jobs()
            return
        if interval is not None and interval <= 0:
            raise CommandError("--interval must be positive")
        run_worker(interval=interval, every={"sweep": sweep_every} if sweep_every else None)
