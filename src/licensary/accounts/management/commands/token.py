from django.core.management.base import BaseCommand, CommandError

from licensary.accounts.models import User
from licensary.accounts.scopes import ALL_SCOPES
from licensary.accounts.services import token_create


class Command(BaseCommand):
    help = "API tokens: `licensary token create EMAIL` prints a new token once."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("--name", default="cli")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ALL_SCOPES,
            help="a scope of the token (repeat for more); every scope when none is named",
        )

    def handle(
        self, *args, action: str, email: str, name: str, scopes: list[str] | None, **options
    ) -> None:
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            raise CommandError(f"No account with email {email}.")
        _, text = token_create(user=user, name=name, scopes=scopes)
        self.stdout.write(text)
