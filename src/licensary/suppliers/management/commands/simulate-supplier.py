from django.core.management.base import BaseCommand, CommandError

from licensary.suppliers.simulator import banner, make_server, parse_package, run
from licensary.suppliers.simulator_state import DEFAULT_PORT


class Command(BaseCommand):
    help = (
        "Serve the Manage2-style supplier simulator on 127.0.0.1 (tests and demos); it "
        "prints its credentials and packages when it starts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--username", default="sim")
        parser.add_argument("--password", default="sim")
        parser.add_argument(
            "--package",
            action="append",
            default=[],
            metavar="ID=NAME",
            help="a package to sell (repeatable; default P1 and P2)",
        )

    def handle(
        self,
        *args,
        port: int,
        host: str,
        username: str,
        password: str,
        package: list[str],
        **options,
    ) -> None:
        try:
            packages = dict(parse_package(text) for text in package) or None
        except ValueError as exc:
            raise CommandError(f"--package: {exc} (use ID=NAME)") from exc
        server = make_server(host, port, username=username, password=password, packages=packages)
        self.stdout.write(banner(server))
        self.stdout.flush()
        run(server)
