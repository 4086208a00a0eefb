import os
import secrets
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from licensary.accounts.models import User
from licensary.config.management.commands.serve import metrics_environ, server_argv


class Command(BaseCommand):
    help = "Migrate, create the first admin if none, then serve the web app and the worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.ensure_admin()
        manage = [sys.executable, "-m", "licensary.cli"]
        children = [
            subprocess.Popen([*manage, "worker"]),
            subprocess.Popen(server_argv(host, port, workers), env=metrics_environ(port)),
        ]
        self.stdout.write(
            f"Licensary is up at http://{host}:{port}/ (API docs at /api/docs, "
            "admin at /admin/). Ctrl+C stops it."
        )

        def stop(signum: int, frame: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop(signal.SIGTERM, None)
            for child in children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
        sys.exit(max(child.returncode or 0 for child in children))

    def ensure_admin(self) -> None:
        if User.objects.filter(kind=User.Kind.STAFF, is_superuser=True).exists():
            return
        email = os.environ.get("LICENSARY_ADMIN_EMAIL", "admin@licensary.localhost")
        password = os.environ.get("LICENSARY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password)
        self.stdout.write(
            self.style.WARNING(f"First admin created (shown once): {email} / {password}")
        )
