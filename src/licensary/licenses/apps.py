from django.apps import AppConfig


class LicensesConfig(AppConfig):
    name = "licensary.licenses"
    label = "licenses"

    def ready(self) -> None:
        # Imported here, not at the top: services need the app registry, which is ready only now.
        from licensary.billing.lines import register_line_handler
        from licensary.licenses.invoicing import RenewalLines
        from licensary.licenses.own_supplier import OwnSupplier
        from licensary.suppliers.registry import register_adapter

        register_line_handler(("renewal",), RenewalLines())
        register_adapter("own", OwnSupplier)
