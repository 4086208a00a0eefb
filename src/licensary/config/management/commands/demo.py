from django.core.management.base import BaseCommand, CommandParser

from licensary.accounts.models import User
from licensary.accounts.services import account_create, token_create
from licensary.config.demo_data import DAYS, PASSWORD, demo_load, demo_summary
from licensary.core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Load a lived-in demo platform: five months of orders, renewals, lapses, agents' "
        "sales, held orders, receipts, tickets, a claim and a refund request, replayed "
        "through the real services."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet", action="store_true", help="No progress bar (it shows on a terminal only)."
        )

    def handle(self, *args, quiet: bool = False, **options) -> None:
        if User.objects.filter(email="alice@demo.test").exists():
            self.stdout.write("Demo data is loaded already.")
            return
        staff = User.objects.filter(kind=User.Kind.STAFF).order_by("pk").first()
        if staff is None:
            staff = account_create(
                actor=None, kind="staff", email="staff@demo.test", password=PASSWORD
            )

        with progress_bar(
            self.stdout, description=f"replaying {DAYS} days", total=DAYS + 1, quiet=quiet
        ) as done:
            cast = demo_load(staff=staff, progress=lambda day, total: done(day))
        for name, count in demo_summary().items():
            self.stdout.write(f"  {name:<20} {count}")
        self.stdout.write(f"Every demo account signs in with the password {PASSWORD!r}:")
        for user in cast.people.values():
            agent = f" (agent {user.agent.email})" if user.agent else ""
            self.stdout.write(f"  {user.email:<20} {user.kind}{agent}")
        for name in ("alice", "carol"):
            self.stdout.write(f"{name}@demo.test: API token {token_create(user=cast[name])[1]}")
