"""What happens to the catalog, as events: each writes its audit entry and is announced to
the apps that react (`audit.bus`), in the caller's transaction."""

from collections.abc import Mapping

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.catalog.models import Product


def product_created(product: Product, *, values: Mapping[str, object], actor: User) -> None:
    """`product.created`, with the `values` it was made with."""
    record(
        Change(
            action="product.created",
            object_type="product",
            object_id=product.pk,
            actor=actor,
            after=dict(values),
        )
    )


def product_updated(
    product: Product,
    *,
    before: Mapping[str, object],
    changes: Mapping[str, object],
    actor: User,
) -> None:
    """`product.updated`: the fields `changes` names, from what they were (`before`)."""
    record(
        Change(
            action="product.updated",
            object_type="product",
            object_id=product.pk,
            actor=actor,
            before=dict(before),
            after=dict(changes),
        )
    )
