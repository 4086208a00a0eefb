"""Reads of the catalog: what a caller sees, and a product named by slug or id."""

from django.db.models import QuerySet

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.core.api import parse_id
from licensary.core.errors import NotFound


def visible_products(user: User) -> QuerySet[Product]:
    qs = Product.objects.all()
    return qs if user.is_staff_account else qs.filter(active=True)


def product_get_by_ref(ref: str) -> Product:
    """A product by its slug, or by its id when `ref` is all digits."""
    qs = Product.objects.all()
    by_id = ref.isascii() and ref.isdigit()
    product = qs.filter(pk=parse_id(ref)).first() if by_id else qs.filter(slug=ref).first()
    if product is None:
        raise NotFound(f"No product {ref!r}.")
    return product
