"""The catalog: anyone signed in reads it; staff edit it."""

from typing import Annotated

from django.db.models import QuerySet
from ninja import Router, Schema, Status
from pydantic import Field, StrictBool, StrictInt

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.catalog.models import Product
from licensary.catalog.services import product_create, product_update
from licensary.core.api import Cursor, Limit, MoneyOut, Page, get_visible, paginate
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, Printable, column

router = Router(tags=["catalog"])


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


def visible_products(request: AuthedRequest[User]) -> QuerySet[Product]:
    qs = Product.objects.all()
    return qs if request.auth.is_staff_account else qs.filter(active=True)


@router.get("/products", response=Page[ProductOut])
def list_products(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    return paginate(visible_products(request), limit=limit, cursor=cursor, render=product_out)


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request: AuthedRequest[User], product_id: Id) -> dict:
    return product_out(get_visible(visible_products(request), product_id))


@router.post("/products", response={201: ProductOut})
def create_product(request: AuthedRequest[User], payload: ProductIn) -> Status:
    return Status(201, product_out(product_create(actor=request.auth, **payload.dict())))


@router.patch("/products/{product_id}", response=ProductOut)
def update_product(request: AuthedRequest[User], product_id: Id, payload: ProductPatch) -> dict:
    require_staff(request.auth, "edit the catalog")
    product = get_visible(Product.objects.all(), product_id)
    return product_out(
        product_update(product=product, actor=request.auth, **payload.dict(exclude_unset=True))
    )
