"""From a supplier's name to a working adapter; staff alerts when a supplier cannot deliver."""

import logging

from django.utils import timezone

from licensary.suppliers.base import Supplier, SupplierUnavailable
from licensary.suppliers.manage2 import Manage2Supplier
from licensary.suppliers.models import SupplierAccount

logger = logging.getLogger(__name__)


def supplier_adapter(name: str) -> Supplier:
    if name == "own":
        from licensary.suppliers.own import OwnSupplier

        return OwnSupplier()
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
