from django.core.management.base import BaseCommand

from licensary.jobs.runner import run_pending_jobs, run_worker


class Command(BaseCommand):
    help = "Run the worker: durable jobs, and the lifecycle sweep every minute."

    def add_arguments(self, parser):
        parser.add_argument("--sweep-every", type=float, default=60.0, help="Seconds.")
        parser.add_argument("--once", action="store_true", help="Run the jobs due now, then exit.")

    def handle(self, *args, sweep_every: float, once: bool, **options) -> None:
        if once:
            run_pending_jobs()
            return
        run_worker(sweep_every=sweep_every)
