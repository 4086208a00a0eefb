from django.core.management.base import BaseCommand, CommandError

from licensary.suppliers.base import SupplierError
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.reconcile import differences_table, reconcile


class Command(BaseCommand):
    help = "Compare our manufacturer licenses with each supplier's list; --fix repairs."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--supplier", default=None)
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, supplier: str | None, fix: bool, **options) -> None:  # noqa: ANN002, ANN003
        names = [supplier] if supplier else list(
            SupplierAccount.objects.filter(active=True).values_list("name", flat=True))
        if supplier and not SupplierAccount.objects.filter(name=supplier).exists():
            raise CommandError(f"No supplier {supplier}.")
        for name in names:
            try:
                differences = reconcile(supplier=name, fix=fix)
            except SupplierError as exc:
                raise CommandError(f"{name}: {exc}") from exc
            self.stdout.write(f"== {name}: {len(differences)} difference(s)")
            if differences:
                self.stdout.write(differences_table(differences))
