"""Every change to supplier accounts (staff only), each with its event."""

from typing import Any

from django.db import IntegrityError, transaction

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.core.errors import NotFound, ValidationFailed
from licensary.suppliers import events as supplier_events
from licensary.suppliers.models import SupplierAccount


def _validate(values: dict[str, Any]) -> None:
    if values.get("kind", "manage2") not in SupplierAccount.Kind.values:
        raise ValidationFailed(f"kind must be one of {', '.join(SupplierAccount.Kind.values)}.")
    url = values.get("base_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValidationFailed("base_url must be an http(s) URL.")
    timeout = values.get("timeout_seconds")
    if timeout is not None and not 0.1 <= timeout <= 120:
        raise ValidationFailed("timeout_seconds must be between 0.1 and 120.")


def supplier_create(*, actor: User, values: dict[str, Any]) -> SupplierAccount:
    require_staff(actor, "manage suppliers")
    _validate(values)
    if not values["name"].replace("-", "").replace("_", "").isalnum() or values["name"] == "own":
        raise ValidationFailed("name is a slug other than 'own'.")
    account = SupplierAccount(**{k: v for k, v in values.items() if k != "password"})
    account.set_password(values["password"])
    try:
        with transaction.atomic():
            account.save()
            supplier_events.supplier_created(account, actor=actor)
    except IntegrityError as exc:
        raise ValidationFailed(
            f"A supplier named {account.name} exists.", code="name_taken", status=409
        ) from exc
    return account


def supplier_update(*, actor: User, name: str, changes: dict[str, Any]) -> SupplierAccount:
    require_staff(actor, "manage suppliers")
    account = SupplierAccount.objects.filter(name=name).first()
    if account is None:
        raise NotFound(f"No supplier {name}.")
    _validate(changes)
    with transaction.atomic():
        for key, value in changes.items():
            if key == "password":
                account.set_password(value)
            else:
                setattr(account, key, value)
        account.save()
        supplier_events.supplier_updated(account, changes=changes, actor=actor)
    return account
