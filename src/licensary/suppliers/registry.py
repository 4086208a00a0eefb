"""From a supplier's name to a working adapter; staff alerts when a supplier cannot deliver.

A supplier account (Manage2, ...) is configured in `SupplierAccount`. An adapter that is no
vendor's, such as `own` (our own registry, the License table), is registered by the app that
owns it at start-up (`register_adapter`, from its `AppConfig.ready`), so suppliers never
import the apps above them.
"""

import logging
from collections.abc import Callable

from django.utils import timezone

from licensary.suppliers.base import Supplier, SupplierUnavailable
from licensary.suppliers.manage2 import Manage2Supplier
from licensary.suppliers.models import SupplierAccount

logger = logging.getLogger(__name__)

_registered: dict[str, Callable[[], Supplier]] = {}


def register_adapter(name: str, factory: Callable[[], Supplier]) -> None:
    """`supplier_adapter(name)` answers `factory()` from now on (called from `apps.ready`)."""
    _registered[name] = factory


def supplier_adapter(name: str) -> Supplier:
    factory = _registered.get(name)
    if factory is not None:
        return factory()
    account = SupplierAccount.objects.filter(name=name).first()
    if account is None or not account.active:
        raise SupplierUnavailable("not configured or switched off", supplier=name)
    if account.kind == SupplierAccount.Kind.MANAGE2:
        return Manage2Supplier.from_config(account, timeout=account.timeout_seconds)
    raise SupplierUnavailable(f"unknown supplier kind {account.kind}", supplier=name)


def supplier_alert(name: str, reason: str) -> None:
    """Staff see the last alert on the supplier (API and admin) and in the log."""
    logger.error("supplier %s cannot deliver: %s", name, reason)
    SupplierAccount.objects.filter(name=name).update(
        last_alert=reason[:300], last_alert_at=timezone.now()
    )
