"""Staff manage supplier accounts; secrets are accepted, never returned."""

from datetime import datetime
from typing import Annotated

from ninja import Router, Schema, Status
from pydantic import StrictBool, StrictFloat

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.core.api import Cursor, Limit, Page, paginate
from licensary.core.http import AuthedRequest
from licensary.core.text import Printable, column
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.services import supplier_create, supplier_update

router = Router(tags=["suppliers"])


Name = Annotated[str, Printable(column(SupplierAccount, "name"))]
BaseUrl = Annotated[str, Printable(column(SupplierAccount, "base_url"))]
Username = Annotated[str, Printable(column(SupplierAccount, "username"))]
Password = Annotated[str, Printable(1000)]  # sealed before it is stored


class SupplierIn(Schema):
    name: Name
    kind: Annotated[str, Printable(16)] = "manage2"
    base_url: BaseUrl
    username: Username
    password: Password
    timeout_seconds: StrictFloat = 15.0  # "15" is not a number
    active: StrictBool = True


class SupplierPatch(Schema):
    base_url: BaseUrl | None = None
    username: Username | None = None
    password: Password | None = None
    timeout_seconds: StrictFloat | None = None
    active: StrictBool | None = None


class SupplierOut(Schema):
    name: str
    kind: str
    base_url: str
    username: str
    has_password: bool
    timeout_seconds: float
    active: bool
    last_alert: str
    last_alert_at: datetime | None


def supplier_out(s: SupplierAccount) -> dict:
    return {
        "name": s.name,
        "kind": s.kind,
        "base_url": s.base_url,
        "username": s.username,
        "has_password": bool(s.password_sealed),
        "timeout_seconds": s.timeout_seconds,
        "active": s.active,
        "last_alert": s.last_alert,
        "last_alert_at": s.last_alert_at,
    }


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
