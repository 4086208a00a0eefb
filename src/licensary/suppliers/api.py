"""Staff manage supplier accounts; secrets are accepted, never returned."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.core.api import Cursor, Limit, Page, paginate
from licensary.core.http import AuthedRequest
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.schemas import Name, SupplierIn, SupplierOut, SupplierPatch, supplier_out
from licensary.suppliers.services import supplier_create, supplier_update

router = Router(tags=["suppliers"])


@router.get("/suppliers", response=Page[SupplierOut], summary="Staff: suppliers, by name")
def list_suppliers(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    require_staff(request.auth, "manage suppliers")
    return paginate(
        SupplierAccount.objects.all(),
        limit=limit,
        cursor=cursor,
        render=supplier_out,
        order=("name", "pk"),
    )


@router.post("/suppliers", response={201: SupplierOut})
def create_supplier(request: AuthedRequest[User], payload: SupplierIn) -> Status:
    require_staff(request.auth, "manage suppliers")
    account = supplier_create(actor=request.auth, values=payload.dict())
    return Status(201, supplier_out(account))


@router.patch("/suppliers/{name}", response=SupplierOut)
def update_supplier(request: AuthedRequest[User], name: Name, payload: SupplierPatch) -> dict:
    require_staff(request.auth, "manage suppliers")
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    account = supplier_update(actor=request.auth, name=name, changes=changes)
    return supplier_out(account)
