from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensary.config.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write one archive (tar.gz with a manifest) of the database, the uploaded files "
        "(receipts, identity documents, attachments) and the key material."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "destination",
            nargs="?",
            default=".",
            help="A new file, or a folder for licensary-backup-<UTC time>.tar.gz (default: .)",
        )

    def handle(self, *args, destination: str, **options) -> None:
        try:
            report = backup_create(destination=Path(destination))
        except BackupError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from None
        manifest = report.manifest
        rows = sum(table["rows"] for table in manifest["tables"].values())
        files = sum(1 for name in manifest["members"] if name.startswith("files/"))
        head = manifest["audit_head"] or {"count": 0}
        key = (
            "included"
            if manifest["secret_key"]["included"]
            else "not included (it is set in the environment)"
        )
        self.stdout.write(
            f"{report.path}: {manifest['database']['vendor']} database "
            f"({len(manifest['tables'])} tables, {rows} rows, {head['count']} audit entries), "
            f"{files} uploaded files, secret key {key}"
        )
