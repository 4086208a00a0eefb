from django.core.management.base import BaseCommand

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
        parser.add_argument("--once", action="store_true", help="Run the jobs due now, then exit.")

    def handle(self, *args, sweep_every: float | None, once: bool, **options) -> None:
        if once:
            run_pending_jobs()
            return
        run_worker(every={"sweep": sweep_every} if sweep_every else None)
