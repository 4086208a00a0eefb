"""Staff manage supplier accounts; secrets are accepted, never returned."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import StrictBool, StrictFloat

from licensary.accounts.policy import require_staff
from licensary.audit.services import Change, audit_record
from licensary.core.api import Cursor, Limit, Page, paginate
from licensary.core.errors import NotFound, ValidationFailed
from licensary.core.text import Text, column
from licensary.suppliers.models import SupplierAccount

router = Router(tags=["suppliers"])


Name = Text(column(SupplierAccount, "name"))
BaseUrl = Text(column(SupplierAccount, "base_url"))
Username = Text(column(SupplierAccount, "username"))
Password = Text(1000)  # sealed before it is stored


class SupplierIn(Schema):
    name: Name
    kind: Text(16) = "manage2"
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


def _validate(values: dict) -> None:
    if values.get("kind", "manage2") not in SupplierAccount.Kind.values:
        raise ValidationFailed(f"kind must be one of {', '.join(SupplierAccount.Kind.values)}.")
    url = values.get("base_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValidationFailed("base_url must be an http(s) URL.")
    timeout = values.get("timeout_seconds")
    if timeout is not None and not 0.1 <= timeout <= 120:
        raise ValidationFailed("timeout_seconds must be between 0.1 and 120.")


@router.get("/suppliers", response=Page[SupplierOut], summary="Staff: suppliers, by name")
def list_suppliers(request: HttpRequest, limit: Limit = 50, cursor: Cursor | None = None) -> dict:
    require_staff(request.auth, "manage suppliers")
    return paginate(
        SupplierAccount.objects.all(),
        limit=limit,
        cursor=cursor,
        render=supplier_out,
        order=("name", "pk"),
    )


@router.post("/suppliers", response={201: SupplierOut})
def create_supplier(request: HttpRequest, payload: SupplierIn) -> Status:
    require_staff(request.auth, "manage suppliers")
    values = payload.dict()
    _validate(values)
    if not values["name"].replace("-", "").replace("_", "").isalnum() or values["name"] == "own":
        raise ValidationFailed("name is a slug other than 'own'.")
    account = SupplierAccount(**{k: v for k, v in values.items() if k != "password"})
    account.set_password(values["password"])
    try:
        with transaction.atomic():
            account.save()
            audit_record(
                Change(
                    action="supplier.created",
                    object_type="supplier",
                    object_id=account.name,
                    actor=request.auth,
                    after={"base_url": account.base_url, "kind": account.kind},
                )
            )
    except IntegrityError as exc:
        raise ValidationFailed(
            f"A supplier named {account.name} exists.", code="name_taken", status=409
        ) from exc
    return Status(201, supplier_out(account))


@router.patch("/suppliers/{name}", response=SupplierOut)
def update_supplier(request: HttpRequest, name: Name, payload: SupplierPatch) -> dict:
    require_staff(request.auth, "manage suppliers")
    account = SupplierAccount.objects.filter(name=name).first()
    if account is None:
        raise NotFound(f"No supplier {name}.")
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    _validate(changes)
    with transaction.atomic():
        for key, value in changes.items():
            if key == "password":
                account.set_password(value)
            else:
                setattr(account, key, value)
        account.save()
        audit_record(
            Change(
                action="supplier.updated",
                object_type="supplier",
                object_id=account.name,
                actor=request.auth,
                after={k: ("***" if k == "password" else v) for k, v in changes.items()},
            )
        )
    return supplier_out(account)
