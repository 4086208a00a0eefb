from django.core.management.base import BaseCommand, CommandError

from licensary.core.errors import DomainError
from licensary.verification.keys import keys_ensure, keys_published, keys_retire, keys_rotate


class Command(BaseCommand):
    help = "Signing keys: `keys list`, `keys rotate`, `keys retire KEY_ID`."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("action", choices=["list", "rotate", "retire"])
        parser.add_argument("key_id", nargs="?")

    def handle(self, *args, action: str, key_id: str | None, **options) -> None:  # noqa: ANN002, ANN003
        try:
            if action == "rotate":
                key = keys_rotate()
                self.stdout.write(f"new active key {key.key_id}; the old key stays published "
                                  "until `licensary keys retire KEY_ID`")
            elif action == "retire":
                if not key_id:
                    raise CommandError("keys retire needs a KEY_ID")
                keys_retire(key_id=key_id)
                self.stdout.write(f"retired {key_id}")
            else:
                keys_ensure()
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for key in keys_published():
            self.stdout.write(f"{key.key_id}  {key.status:9}  {key.public_key}")
