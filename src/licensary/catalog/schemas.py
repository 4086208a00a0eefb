"""What the catalog API takes and answers: its schemas and the renderer of a product."""

from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from licensary.catalog.models import Product
from licensary.core.api import MoneyOut
from licensary.core.text import Printable, column


class ProductOut(Schema):
    id: str
    slug: str
    name: str
    kind: str
    manufacturer: str
    period_days: int
    price: MoneyOut
    setup_fee: MoneyOut
    requires_identity: bool
    suppliers: list[str]
    upstream_package: str
    active: bool


Slug = Annotated[str, Printable(column(Product, "slug"))]
Name = Annotated[str, Printable(column(Product, "name"), min_length=1)]
Manufacturer = Annotated[str, Printable(column(Product, "manufacturer"))]
Package = Annotated[str, Printable(column(Product, "upstream_package"))]
# Supplier names in failover order ("own" for own products); a name is a slug of at most 50
# characters (suppliers sit above the catalog, which therefore does not import them).
Suppliers = Annotated[list[Annotated[str, Printable(50)]], Field(max_length=20)]


class ProductIn(Schema):
    slug: Slug | None = None
    name: Name
    kind: Annotated[str, Printable(16)]
    manufacturer: Manufacturer = ""
    period_days: StrictInt = 30
    price: StrictInt  # minor units: `true` or "500" are not prices
    setup_fee: StrictInt = 0
    # The platform's (LICENSARY_CURRENCY) when left out; checked by the service.
    currency: Annotated[str, Printable(3)] | None = None
    requires_identity: StrictBool = False  # `0` or "no" are not booleans
    suppliers: Suppliers = []
    upstream_package: Package = ""
    active: StrictBool = True


class ProductPatch(Schema):
    slug: Slug | None = None
    name: Name | None = None
    manufacturer: Manufacturer | None = None
    period_days: StrictInt | None = None
    price: StrictInt | None = None
    setup_fee: StrictInt | None = None
    requires_identity: StrictBool | None = None
    suppliers: Suppliers | None = None
    upstream_package: Package | None = None
    active: StrictBool | None = None


def product_out(p: Product) -> dict:
    return {
        "id": str(p.pk),
        "slug": p.slug,
        "name": p.name,
        "kind": p.kind,
        "manufacturer": p.manufacturer,
        "period_days": p.period_days,
        "price": p.price_money.as_dict(),
        "setup_fee": p.setup_fee_money.as_dict(),
        "requires_identity": p.requires_identity,
        "suppliers": p.suppliers,
        "upstream_package": p.upstream_package,
        "active": p.active,
    }
