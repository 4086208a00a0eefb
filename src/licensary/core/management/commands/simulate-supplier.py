from django.core.management.base import BaseCommand

from licensary.suppliers.simulator import serve


class Command(BaseCommand):
    help = "Serve the Manage2-style supplier simulator on 127.0.0.1 (tests and demos)."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, host: str, **options) -> None:  # noqa: ANN002, ANN003
        self.stdout.write(f"Manage2 simulator on http://{host}:{port}/ (user sim, password sim)")
        serve(host=host, port=port)
