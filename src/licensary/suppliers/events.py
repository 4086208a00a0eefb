"""What happens to supplier accounts, as events (audit entry + announcement, in the caller's
transaction)."""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.suppliers.models import SupplierAccount


def supplier_created(account: SupplierAccount, *, actor: User) -> None:
    record(
        Change(
            action="supplier.created",
            object_type="supplier",
            object_id=account.name,
            actor=actor,
            after={"base_url": account.base_url, "kind": account.kind},
        )
    )


def supplier_updated(account: SupplierAccount, *, changes: dict[str, object], actor: User) -> None:
    """`changes` as asked; a new password is recorded as changed, never written down."""
    record(
        Change(
            action="supplier.updated",
            object_type="supplier",
            object_id=account.name,
            actor=actor,
            after={k: ("***" if k == "password" else v) for k, v in changes.items()},
        )
    )
