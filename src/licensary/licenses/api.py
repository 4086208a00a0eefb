"""Licenses: reading them, their history, and asking to renew."""

from datetime import datetime
from typing import Annotated

from django.utils import timezone
from ninja import Router, Schema, Status

from licensary.accounts.models import User
from licensary.accounts.policy import visible
from licensary.audit.models import AuditEntry
from licensary.billing.api import InvoiceOut, invoice_out
from licensary.catalog.models import Product
from licensary.core.api import Cursor, Limit, Page, StatusFilter, get_visible, paginate, with_status
from licensary.core.db import with_retries
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, IpAddressFilter, Printable, column
from licensary.licenses.models import License, UnresolvableProblem
from licensary.licenses.rules import effective_state
from licensary.licenses.services import (
    license_change_ip,
    license_mark_unresolvable,
    license_renewal_invoice,
)
from licensary.licenses.sweep import licenses_catch_up

router = Router(tags=["licenses"])


class UpstreamOut(Schema):
    supplier: str
    reference: str
    status: str
    in_step: bool
    error: str


class ChangeIpIn(Schema):
    ip: Annotated[str, Printable(64)]  # checked and made canonical by the service (`invalid_ip`)


class LicenseOut(Schema):
    id: str
    account: str
    product: str
    kind: str
    ip: str
    status: str
    period_start: datetime
    period_end: datetime
    blocked_at: datetime | None
    canceled_at: datetime | None
    deleted_at: datetime | None
    renewable_until: datetime | None
    cancel_reason: str | None
    upstream: UpstreamOut | None


class HistoryOut(Schema):
    id: str
    at: datetime
    actor: str
    action: str
    before: dict
    after: dict
    reason: str


def license_out(lic: License) -> dict:
    # What verification answers now, whether or not the sweep has recorded it yet (rule 5).
    state = effective_state(lic, timezone.now())
    return {
        "id": str(lic.pk),
        "account": str(lic.account_id),
        "product": lic.product.slug,
        "kind": lic.kind,
        "ip": lic.ip,
        "status": state.status,
        "period_start": lic.period_start,
        "period_end": lic.period_end,
        "blocked_at": state.blocked_at,
        "canceled_at": state.canceled_at,
        "deleted_at": state.deleted_at,
        "renewable_until": state.renewable_until,
        "cancel_reason": state.cancel_reason or None,
        "upstream": {
            "supplier": lic.upstream_supplier,
            "reference": lic.upstream_reference,
            "status": lic.upstream_status,
            "in_step": lic.upstream_in_step,
            "error": lic.upstream_error,
        }
        if lic.kind == License.Kind.MANUFACTURER
        else None,
    }


def visible_licenses(request: AuthedRequest[User]):
    return visible(License.objects.select_related("product"), request.auth)


@router.get("/licenses", response=Page[LicenseOut])
def list_licenses(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    ip: IpAddressFilter | None = None,
    product: Annotated[str, Printable(column(Product, "slug"))] | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_licenses(request), status)  # validated before anything is read
    if status:
        # The filter reads the stored status: bring the caller's due licenses up to date
        # first (the sweep's steps, recorded as such), so it finds what the rules say now.
        with_retries(lambda: licenses_catch_up(licenses=visible_licenses(request)))
    if ip:
        qs = qs.filter(ip=ip)
    if product:
        qs = qs.filter(product__slug=product)
    return paginate(qs, limit=limit, cursor=cursor, render=license_out)


@router.get("/licenses/{license_id}", response=LicenseOut)
def get_license(request: AuthedRequest[User], license_id: Id) -> dict:
    return license_out(get_visible(visible_licenses(request), license_id))


@router.post(
    "/licenses/{license_id}/renew",
    response={200: InvoiceOut},
    summary="The license's unpaid renewal invoice (issued if there is none)",
)
def renew_license(request: AuthedRequest[User], license_id: Id) -> Status:
    lic = get_visible(visible_licenses(request), license_id)
    return Status(200, invoice_out(license_renewal_invoice(license=lic, actor=request.auth)))


@router.post(
    "/licenses/{license_id}/change-ip",
    response=LicenseOut,
    summary="Move the license to another IP (at most 3 times per period)",
)
def change_ip(request: AuthedRequest[User], license_id: Id, payload: ChangeIpIn) -> dict:
    lic = get_visible(visible_licenses(request), license_id)
    return license_out(license_change_ip(license=lic, ip=payload.ip, actor=request.auth))


class UnresolvableIn(Schema):
    note: Annotated[str, Printable(column(UnresolvableProblem, "note"), multiline=True)]
    ticket: Annotated[str, Printable(column(UnresolvableProblem, "ticket"))] = ""


@router.post(
    "/licenses/{license_id}/unresolvable",
    response=LicenseOut,
    summary="Staff: the licensing problem cannot be solved (makes it refundable)",
)
def mark_unresolvable(
    request: AuthedRequest[User], license_id: Id, payload: UnresolvableIn
) -> dict:
    lic = get_visible(visible_licenses(request), license_id)
    license_mark_unresolvable(
        license=lic, actor=request.auth, note=payload.note, ticket=payload.ticket
    )
    return license_out(lic)


def history_out(e: AuditEntry) -> dict:
    return {
        "id": str(e.pk),
        "at": e.created_at,
        "actor": e.actor_label,
        "action": e.action,
        "before": e.before,
        "after": e.after,
        "reason": e.reason,
    }


@router.get(
    "/licenses/{license_id}/history",
    response=Page[HistoryOut],
    summary="The license's audit entries, oldest first",
)
def license_history(
    request: AuthedRequest[User], license_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    lic = get_visible(visible_licenses(request), license_id)
    entries = AuditEntry.objects.filter(object_type="license", object_id=str(lic.pk))
    return paginate(entries, limit=limit, cursor=cursor, render=history_out, order=("pk",))
