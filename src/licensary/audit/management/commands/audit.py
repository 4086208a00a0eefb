from django.core.management.base import BaseCommand, CommandError

from licensary.audit.services import audit_verify


class Command(BaseCommand):
    help = "`licensary audit verify`: walk the hash chain and report the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, **options) -> None:
        report = audit_verify()
        if report.problem:
            where = f" at entry {report.first_broken}" if report.first_broken else ""
            raise CommandError(
                f"audit chain broken{where}: {report.problem} "
                f"({report.checked} entries verified before it)"
            )
        self.stdout.write(f"audit chain intact: {report.checked} entries")
