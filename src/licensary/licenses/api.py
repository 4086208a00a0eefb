"""Licenses: reading them, their history, and asking to renew."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.billing.schemas import InvoiceOut, invoice_out
from licensary.core.api import Cursor, Limit, Page, StatusFilter, get_visible, paginate, with_status
from licensary.core.db import with_retries
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, IpAddressFilter
from licensary.licenses.schemas import (
    ChangeIpIn,
    HistoryOut,
    LicenseOut,
    ProductFilter,
    history_out,
    license_out,
)
from licensary.licenses.selectors import license_history_entries, visible_licenses
from licensary.licenses.services import (
    license_change_ip,
    license_renewal_invoice,
)
from licensary.licenses.sweep import licenses_catch_up

router = Router(tags=["licenses"])


@router.get("/licenses", response=Page[LicenseOut])
def list_licenses(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    ip: IpAddressFilter | None = None,
    product: ProductFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_licenses(request.auth), status)  # validated before anything is read
    if status:
        # The filter reads the stored status: bring the caller's due licenses up to date
        # first (the sweep's steps, recorded as such), so it finds what the rules say now.
        with_retries(lambda: licenses_catch_up(licenses=visible_licenses(request.auth)))
    if ip:
        qs = qs.filter(ip=ip)
    if product:
        qs = qs.filter(product__slug=product)
    return paginate(qs, limit=limit, cursor=cursor, render=license_out)


@router.get("/licenses/{license_id}", response=LicenseOut)
def get_license(request: AuthedRequest[User], license_id: Id) -> dict:
    return license_out(get_visible(visible_licenses(request.auth), license_id))


@router.post(
    "/licenses/{license_id}/renew",
    response={200: InvoiceOut},
    summary="The license's unpaid renewal invoice (issued if there is none)",
)
def renew_license(request: AuthedRequest[User], license_id: Id) -> Status:
    lic = get_visible(visible_licenses(request.auth), license_id)
    return Status(200, invoice_out(license_renewal_invoice(license=lic, actor=request.auth)))


@router.post(
    "/licenses/{license_id}/change-ip",
    response=LicenseOut,
    summary="Move the license to another IP (at most 3 times per period)",
)
def change_ip(request: AuthedRequest[User], license_id: Id, payload: ChangeIpIn) -> dict:
    lic = get_visible(visible_licenses(request.auth), license_id)
    return license_out(license_change_ip(license=lic, ip=payload.ip, actor=request.auth))


@router.get(
    "/licenses/{license_id}/history",
    response=Page[HistoryOut],
    summary="The license's audit entries, oldest first",
)
def license_history(
    request: AuthedRequest[User], license_id: Id, limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    lic = get_visible(visible_licenses(request.auth), license_id)
    return paginate(
        license_history_entries(lic),
        limit=limit,
        cursor=cursor,
        render=lambda e: history_out(e, request.auth),
        order=("pk",),
    )
