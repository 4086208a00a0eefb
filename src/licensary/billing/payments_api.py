"""Paying at a gateway, its webhooks, deposits and refunds."""

from typing import Annotated
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.billing.checkouts import checkout_get
from licensary.billing.gateways import invoice_checkout
from licensary.billing.refunds import refund_approve, refund_reject, refund_request
from licensary.billing.schemas import (
    CheckoutIn,
    CheckoutOut,
    DepositIn,
    GatewayName,
    InvoiceOut,
    RefundDecisionIn,
    RefundIn,
    RefundOut,
    RefundRejectIn,
    WebhookOut,
    invoice_out,
    refund_out,
)
from licensary.billing.selectors import visible_invoices, visible_refunds
from licensary.billing.services import deposit_create
from licensary.billing.webhooks import ReturnOutcome, webhook_receive, zarinpal_return_receive
from licensary.core.api import Cursor, Limit, Page, StatusFilter, get_visible, paginate, with_status
from licensary.core.errors import DomainError
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id, Printable

router = Router(tags=["payments"])


@router.post(
    "/invoices/{invoice_id}/checkout",
    response=CheckoutOut,
    summary="Start paying an invoice at a gateway; returns the URL to pay at",
)
def checkout(request: AuthedRequest[User], invoice_id: Id, payload: CheckoutIn) -> dict:
    invoice = get_visible(visible_invoices(request.auth), invoice_id)
    base = f"{settings.PUBLIC_URL}/api/v1/invoices/{invoice.pk}"
    url = invoice_checkout(
        invoice=invoice,
        actor=request.auth,
        gateway=payload.gateway,
        success_url=f"{base}?paid=1",
        cancel_url=f"{base}?canceled=1",
    )
    return {"url": url}


@router.post(
    "/gateways/{name}/webhook",
    response=WebhookOut,
    auth=None,
    summary="Signed by the gateway; each event is applied once",
)
def gateway_webhook(request: HttpRequest, name: GatewayName) -> dict:
    event = webhook_receive(gateway=name, body=request.body, headers=dict(request.headers))
    return {"received": True, "outcome": event.outcome}


class ZarinpalReturnIn(Schema):
    """The query string Zarinpal adds to our return address."""

    authority: Annotated[str, Printable(100, min_length=1)] = Field(alias="Authority")
    status: Annotated[str, Printable(3, min_length=2)] = Field(
        alias="Status", description="OK (paid at Zarinpal) or NOK (canceled or failed)"
    )

    @field_validator("status")
    @classmethod
    def _ok_or_nok(cls, value: str) -> str:
        if value not in ("OK", "NOK"):
            raise ValueError("Status is OK or NOK")
        return value


class ZarinpalReturnOut(Schema):
    invoice: str
    paid: bool
    outcome: str  # applied | overpaid (to credit) | mismatch (for staff) | canceled
    detail: str
    authority: str
    ref_id: str
    redirect: str  # the page a browser is sent to


def _wants_a_page(request: HttpRequest) -> bool:
    """A browser navigating back from Zarinpal asks for HTML; an API client for JSON (and
    every answer under /api/ is JSON unless a page is asked for)."""
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


def _with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@router.get(
    "/gateways/zarinpal/return",
    response={200: ZarinpalReturnOut, 302: None},
    auth=None,
    summary="Where Zarinpal sends the payer back; the payment is verified there, once",
)
def zarinpal_return(request: HttpRequest, params: Query[ZarinpalReturnIn]) -> HttpResponse | dict:
    try:
        result: ReturnOutcome = zarinpal_return_receive(
            authority=params.authority, status=params.status
        )
    except DomainError as exc:
        if not _wants_a_page(request) or exc.code == "not_found":
            raise
        # The payer's browser: to the page it came from, saying why nothing is paid.
        checkout = checkout_get(gateway="zarinpal", reference=params.authority)
        return HttpResponseRedirect(_with_query(checkout.cancel_url, error=exc.code))
    checkout = result.checkout
    redirect = (
        checkout.success_url
        if result.paid
        else _with_query(checkout.cancel_url, error=result.outcome)
    )
    if _wants_a_page(request):
        return HttpResponseRedirect(redirect)
    return {
        "invoice": str(checkout.invoice_id),
        "paid": result.paid,
        "outcome": result.outcome,
        "detail": result.detail,
        "authority": checkout.reference,
        "ref_id": result.ref_id,
        "redirect": redirect,
    }


@router.post(
    "/deposits",
    response={201: InvoiceOut},
    summary="An invoice that, once paid, becomes credit (never refundable)",
)
@idempotent
def create_deposit(request: AuthedRequest[User], payload: DepositIn) -> Status:
    invoice = deposit_create(account=request.auth, amount=payload.amount, actor=request.auth)
    return Status(201, invoice_out(invoice))


@router.post("/refunds", response={201: RefundOut})
@idempotent
def create_refund(request: AuthedRequest[User], payload: RefundIn) -> Status:
    invoice = get_visible(visible_invoices(request.auth), payload.invoice)
    return Status(
        201, refund_out(refund_request(invoice=invoice, reason=payload.reason, actor=request.auth))
    )


@router.get("/refunds", response=Page[RefundOut])
def list_refunds(
    request: AuthedRequest[User],
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    qs = with_status(visible_refunds(request.auth), status)
    return paginate(qs, limit=limit, cursor=cursor, render=refund_out)


@router.get("/refunds/{refund_id}", response=RefundOut)
def get_refund(request: AuthedRequest[User], refund_id: Id) -> dict:
    return refund_out(get_visible(visible_refunds(request.auth), refund_id))


@router.post("/refunds/{refund_id}/approve", response=RefundOut)
def approve_refund(
    request: AuthedRequest[User], refund_id: Id, payload: RefundDecisionIn | None = None
) -> dict:
    require_staff(request.auth, "decide refunds")
    payload = payload or RefundDecisionIn()
    refund = get_visible(visible_refunds(request.auth), refund_id)
    return refund_out(
        refund_approve(
            refund=refund,
            actor=request.auth,
            destination=payload.destination,
            amount=payload.amount,
            note=payload.note,
        )
    )


@router.post("/refunds/{refund_id}/reject", response=RefundOut)
def reject_refund(request: AuthedRequest[User], refund_id: Id, payload: RefundRejectIn) -> dict:
    require_staff(request.auth, "decide refunds")
    refund = get_visible(visible_refunds(request.auth), refund_id)
    return refund_out(refund_reject(refund=refund, actor=request.auth, note=payload.note))
