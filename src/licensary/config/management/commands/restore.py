from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensary.config.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore an archive made by `licensary backup` into this installation, after checking "
        "every member; refuses a non-empty target unless --force. Stop the web processes and "
        "the workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace the database and the uploaded files this installation holds.",
        )

    def handle(self, *args, archive: str, force: bool, **options) -> None:
        try:
            report = backup_restore(path=Path(archive), force=force)
        except BackupError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None
        made = report.manifest["created_at"]
        self.stdout.write(
            f"restored the backup of {made}: {report.tables} tables and {report.rows} rows "
            f"match the manifest, {report.files} uploaded files, audit chain intact "
            f"({report.audit_entries} entries)"
            + (
                f"; replaced what was there ({len(report.replaced)} tables or files)"
                if report.replaced
                else ""
            )
        )
