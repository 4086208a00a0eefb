from django.core.management.base import BaseCommand, CommandError

from licensary.accounts.models import User
from licensary.accounts.services import token_create


class Command(BaseCommand):
    help = "API tokens: `licensary token create EMAIL` prints a new token once."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, action: str, email: str, name: str, **options) -> None:
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            raise CommandError(f"No account with email {email}.")
        _, text = token_create(user=user, name=name)
        self.stdout.write(text)
