"""The catalog: anyone signed in reads it; staff edit it."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.catalog.models import Product
from licensary.catalog.schemas import ProductIn, ProductOut, ProductPatch, product_out
from licensary.catalog.selectors import visible_products
from licensary.catalog.services import product_create, product_update
from licensary.core.api import Cursor, Limit, Page, get_visible, paginate
from licensary.core.http import AuthedRequest
from licensary.core.text import Id

router = Router(tags=["catalog"])


@router.get("/products", response=Page[ProductOut])
def list_products(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    return paginate(visible_products(request.auth), limit=limit, cursor=cursor, render=product_out)


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request: AuthedRequest[User], product_id: Id) -> dict:
    return product_out(get_visible(visible_products(request.auth), product_id))


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
