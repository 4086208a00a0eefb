from django.core.management.base import BaseCommand, CommandError

from licensary.core.progress import progress_bar
from licensary.licenses.reconcile import (
    differences_table,
    reconcile,
    shared_references,
    shared_references_table,
)
from licensary.suppliers.base import SupplierError
from licensary.suppliers.models import SupplierAccount


class Command(BaseCommand):
    help = (
        "Compare our manufacturer licenses with each supplier's list; --fix repairs. "
        "--shared-references lists upstream licenses more than one live license holds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--supplier", default=None)
        parser.add_argument("--fix", action="store_true")
        parser.add_argument(
            "--shared-references",
            action="store_true",
            dest="list_shared",
            help="list upstream licenses held by more than one live license "
            "(migration licenses.0006 stops on them) and change nothing",
        )

    def handle(
        self, *args, supplier: str | None, fix: bool, list_shared: bool = False, **options
    ) -> None:
        if list_shared:
            self.stdout.write(shared_references_table(shared_references(supplier=supplier)))
            return
        names = (
            [supplier]
            if supplier
            else list(SupplierAccount.objects.filter(active=True).values_list("name", flat=True))
        )
        if supplier and not SupplierAccount.objects.filter(name=supplier).exists():
            raise CommandError(f"No supplier {supplier}.")
        reports: list[tuple[str, list]] = []
        # The bar (on a terminal) counts suppliers; the reports follow it, so they never mix.
        with progress_bar(self.stdout, description="reconciling", total=len(names)) as done:
            for n, name in enumerate(names, start=1):
                try:
                    reports.append((name, reconcile(supplier=name, fix=fix)))
                except SupplierError as exc:
                    raise CommandError(f"{name}: {exc}") from exc
                done(n)
        for name, differences in reports:
            self.stdout.write(f"== {name}: {len(differences)} difference(s)")
            if differences:
                self.stdout.write(differences_table(differences))
