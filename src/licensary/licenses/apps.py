from collections.abc import Callable

from django.apps import AppConfig

from licensary.jobs import periodic

SWEEP_EVERY_SECONDS = 60.0


def sweep_round(should_stop: Callable[[], bool]) -> str | None:
    """One round of the lifecycle sweep in the worker: what it changed, or None."""
    # Imported here, not at the top: the sweep needs the app registry, which apps.py precedes.
    from licensary.licenses.sweep import sweep

    report = sweep(should_stop=should_stop)
    return report.summary() if report.total else None


class LicensesConfig(AppConfig):
    name = "licensary.licenses"
    label = "licenses"

    def ready(self) -> None:
        # Imported here, not at the top: services need the app registry, which is ready only now.
        from licensary.billing.lines import register_line_handler
        from licensary.licenses.lifecycle import RenewalLines
        from licensary.licenses.own_supplier import OwnSupplier
        from licensary.suppliers.registry import register_adapter

        register_line_handler(("renewal",), RenewalLines())
        register_adapter("own", OwnSupplier)
        periodic.register(name="sweep", run=sweep_round, every_seconds=SWEEP_EVERY_SECONDS)
