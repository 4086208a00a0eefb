from django.core.management.base import BaseCommand, CommandError

from licensary.core.db import utc_text
from licensary.core.errors import DomainError
from licensary.verification.keys import (
    CACHE_SECONDS,
    keys_ensure,
    keys_published,
    keys_retire,
    keys_rotate,
)


class Command(BaseCommand):
    help = (
        "Signing keys: `keys list`, `keys rotate` (the next key signs after "
        "LICENSARY_KEY_NOTICE_HOURS), `keys rotate --now` (a compromised key), "
        "`keys retire KEY_ID`."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "rotate", "retire"])
        parser.add_argument("key_id", nargs="?")
        parser.add_argument(
            "--now",
            action="store_true",
            help="rotate: the new key signs at once and every other key is "
            "retired (only for a compromised key)",
        )

    def handle(self, *args, action: str, key_id: str | None, now: bool, **options) -> None:
        if now and action != "rotate":
            raise CommandError("--now goes with `keys rotate` only")
        try:
            if action == "rotate":
                self._rotate(now=now)
            elif action == "retire":
                if not key_id:
                    raise CommandError("keys retire needs a KEY_ID")
                keys_retire(key_id=key_id)
                self.stdout.write(f"retired {key_id}")
            else:
                keys_ensure()
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for key, status in keys_published():
            self.stdout.write(
                f"{key.key_id}  {status:8}  {utc_text(key.activates_at)}  {key.public_key}"
            )

    def _rotate(self, *, now: bool) -> None:
        published = {key.key_id for key, _ in keys_published()}
        key = keys_rotate(now=now)
        if not now:
            self.stdout.write(
                f"published {key.key_id} as next: it signs from {utc_text(key.activates_at)}; "
                "the current key is retiring from then on, until `licensary keys retire "
                "KEY_ID`"
            )
            return
        self.stdout.write(
            f"signing with {key.key_id} from now on; retired (no longer published or "
            f"trusted): {', '.join(sorted(published))}.\n"
            f"Other server processes switch within {CACHE_SECONDS:g} s (their key cache); "
            "restart them to switch at once. Licensed servers that trusted only the retired "
            "keys cannot follow on their own: give them the new key (remove their keys-*.json "
            "or update their pinned --keys file)."
        )
