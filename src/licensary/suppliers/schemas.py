"""What the suppliers API takes and answers: its schemas and the renderer of a supplier account
(secrets are accepted, never returned)."""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import StrictBool, StrictFloat

from licensary.core.text import Printable, column
from licensary.suppliers.models import SupplierAccount

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
