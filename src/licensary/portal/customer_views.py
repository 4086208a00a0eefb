"""The customer portal: dashboard, licenses, orders and invoices. Every read is the API's
selector (what the caller may see), every change the API's service; no view writes a model."""

import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.billing.gateways import gateways_offered, invoice_checkout
from licensary.billing.models import Invoice
from licensary.billing.receipts import receipt_upload
from licensary.billing.selectors import receipts_visible_to, visible_invoices
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.selectors import product_get_by_ref, visible_products
from licensary.core.api import get_visible, paginate
from licensary.core.db import with_retries
from licensary.core.errors import DomainError
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.rules import effective_state
from licensary.licenses.schemas import history_out, license_out
from licensary.licenses.selectors import license_history_entries, visible_licenses
from licensary.licenses.services import license_change_ip, license_renewal_invoice
from licensary.licenses.sweep import licenses_catch_up
from licensary.orders.selectors import visible_orders
from licensary.orders.services import order_create
from licensary.portal.customer_billing_views import refund_context
from licensary.portal.customer_transfer_views import (
    license_transfer_context,
    license_transfer_start,
)
from licensary.portal.errors import error_page, explained
from licensary.portal.forms import (
    FIELD_OF_CODE,
    RECEIPT_FIELD_OF_CODE,
    ChangeIpForm,
    LicenseFilterForm,
    OrderForm,
    ReceiptForm,
    TransferForm,
)
from licensary.portal.invoice_documents import invoice_document_context, invoice_pdf
from licensary.portal.pages import page
from licensary.support.models import Ticket
from licensary.support.selectors import visible_tickets

PAGE_SIZE = 50
RENEWALS_SHOWN = 5


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


def _field_error(form: Any, exc: DomainError, fields: dict[str, str] = FIELD_OF_CODE) -> bool:
    """Put a service's refusal next to the field it is about, in the reader's language (the
    service's own detail speaks the API's English); False when it is about no field."""
    field = fields.get(exc.code)
    if field is None or field not in form.fields:
        return False
    form.add_error(field, str(explained(exc.code)[1]))
    return True


def _product_choices(user: User) -> list[tuple[str, str]]:
    return [(p.slug, p.name) for p in visible_products(user).filter(active=True).order_by("name")]


def _days_left(until: datetime, now: datetime) -> int:
    return max(0, math.ceil((until - now).total_seconds() / 86400))


@page
def dashboard(request: HttpRequest, user: User) -> HttpResponse:
    now = timezone.now()
    licenses = list(visible_licenses(user).order_by("period_end", "pk"))
    states = [(lic, effective_state(lic, now)) for lic in licenses]
    counts = {status: 0 for status in License.Status.values}
    for _lic, state in states:
        counts[state.status] += 1
    renewals = [
        {"license": lic, "status": state.status, "days_left": _days_left(lic.period_end, now)}
        for lic, state in states
        if state.status == License.Status.ACTIVE
    ][:RENEWALS_SHOWN]
    open_tickets = list(
        visible_tickets(user).exclude(status=Ticket.Status.CLOSED).order_by("-pk")[:5]
    )
    unpaid = visible_invoices(user).filter(status=Invoice.Status.UNPAID).count()
    return render(
        request,
        "portal/dashboard.html",
        {
            "counts": [(status, counts[status]) for status in License.Status.values],
            "total": len(licenses),
            "renewals": renewals,
            "credit": account_credit(user),
            "open_tickets": open_tickets,
            "open_ticket_count": visible_tickets(user).exclude(status=Ticket.Status.CLOSED).count(),
            "unpaid": unpaid,
        },
    )


@page
def licenses_list(request: HttpRequest, user: User) -> HttpResponse:
    form = LicenseFilterForm(request.GET or None, products=_product_choices(user))
    qs = visible_licenses(user)
    if form.is_bound and form.is_valid():
        status, product, ip = (form.cleaned_data[k] for k in ("status", "product", "ip"))
        if status:
            # As the API does: the caller's due licenses are brought up to date (the sweep's
            # steps) before the stored status is filtered.
            with_retries(lambda: licenses_catch_up(licenses=visible_licenses(user)))
            qs = qs.filter(status=status)
        if product:
            qs = qs.filter(product__slug=product)
        if ip:
            qs = qs.filter(ip=ip)
    elif form.is_bound:
        qs = qs.none()
    listed = paginate(qs, limit=PAGE_SIZE, cursor=_cursor(request), render=license_out)
    return render(
        request,
        "portal/licenses/list.html",
        {"form": form, "licenses": listed["items"], "next_cursor": listed["next_cursor"]},
        status=200 if not form.is_bound or form.is_valid() else 422,
    )


def _license_page(
    request: HttpRequest,
    user: User,
    lic: License,
    *,
    ip_form: ChangeIpForm,
    transfer_form: TransferForm | None = None,
    status: int = 200,
) -> HttpResponse:
    history = paginate(
        license_history_entries(lic),
        limit=PAGE_SIZE,
        cursor=None,
        render=lambda e: history_out(e, user),
        order=("pk",),
    )
    return render(
        request,
        "portal/licenses/detail.html",
        {
            "license": license_out(lic),
            "product": lic.product,
            "history": history["items"],
            "ip_form": ip_form,
            "days_left": _days_left(lic.period_end, timezone.now()),
            # The agent that pays its renewals, when that is not the reader: it renews it.
            "renewed_by": lic.billed_to if lic.billed_to_id not in (None, user.pk) else None,
            **license_transfer_context(user, lic, form=transfer_form),
        },
        status=status,
    )


@page
def license_detail(request: HttpRequest, user: User, license_id: int) -> HttpResponse:
    lic = get_visible(visible_licenses(user), license_id)
    return _license_page(request, user, lic, ip_form=ChangeIpForm(initial={"ip": lic.ip}))


@page
@require_POST
def license_renew(request: HttpRequest, user: User, license_id: int) -> HttpResponse:
    lic = get_visible(visible_licenses(user), license_id)
    invoice = license_renewal_invoice(license=lic, actor=user)
    messages.success(request, _("Here is the renewal invoice; pay it to extend the license."))
    return redirect("portal:invoice", invoice_id=invoice.pk)


@page
@require_POST
def license_change_ip_view(request: HttpRequest, user: User, license_id: int) -> HttpResponse:
    lic = get_visible(visible_licenses(user), license_id)
    form = ChangeIpForm(request.POST)
    if form.is_valid():
        try:
            license_change_ip(license=lic, ip=form.cleaned_data["ip"], actor=user)
        except DomainError as exc:
            if not _field_error(form, exc):
                raise
            return _license_page(request, user, lic, ip_form=form, status=exc.status)
        messages.success(request, _("The license moved to its new IP address."))
        return redirect("portal:license", license_id=lic.pk)
    return _license_page(request, user, lic, ip_form=form, status=422)


@page
@require_POST
def license_transfer(request: HttpRequest, user: User, license_id: int) -> HttpResponse:
    """Give the license to another account, named by its e-mail (rule 10)."""
    lic = get_visible(visible_licenses(user), license_id)
    refused = license_transfer_start(request, user, lic)
    if refused is None:
        return redirect("portal:license", license_id=lic.pk)
    form, status = refused
    ip_form = ChangeIpForm(initial={"ip": lic.ip})
    return _license_page(request, user, lic, ip_form=ip_form, transfer_form=form, status=status)


@page
def orders_list(request: HttpRequest, user: User) -> HttpResponse:
    listed = paginate(
        visible_orders(user).select_related("invoice", "license"),
        limit=PAGE_SIZE,
        cursor=_cursor(request),
        render=lambda o: o,
    )
    return render(
        request,
        "portal/orders/list.html",
        {"orders": listed["items"], "next_cursor": listed["next_cursor"]},
    )


@page
def order_new(request: HttpRequest, user: User) -> HttpResponse:
    products = _product_choices(user)
    form = OrderForm(request.POST or None, products=products)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                order = order_create(
                    actor=user,
                    product=product_get_by_ref(form.cleaned_data["product"]),
                    ip=form.cleaned_data["ip"],
                )
            except DomainError as exc:
                if not _field_error(form, exc):
                    raise
                status = exc.status
            else:
                messages.success(request, _("Order placed. Pay its invoice to get the license."))
                return redirect("portal:invoice", invoice_id=order.invoice_id)
    return render(
        request,
        "portal/orders/new.html",
        {"form": form, "has_products": bool(products)},
        status=status,
    )


@page
def invoices_list(request: HttpRequest, user: User) -> HttpResponse:
    listed = paginate(
        visible_invoices(user), limit=PAGE_SIZE, cursor=_cursor(request), render=lambda i: i
    )
    return render(
        request,
        "portal/invoices/list.html",
        {"invoices": listed["items"], "next_cursor": listed["next_cursor"]},
    )


def _invoice_context(
    user: User, invoice: Invoice, *, receipt_form: ReceiptForm | None = None
) -> dict[str, Any]:
    order = visible_orders(user).filter(invoice=invoice).first()
    return {
        "invoice": invoice,
        "lines": list(invoice.lines.all()),
        "credit": account_credit(invoice.account),
        "order": order,
        "receipts": list(receipts_visible_to(user).filter(invoice=invoice).order_by("-pk")),
        "receipt_form": receipt_form or ReceiptForm(),
        "gateways": gateways_offered(invoice),
        **refund_context(user, invoice),
    }


@page
def invoice_detail(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    invoice = get_visible(visible_invoices(user), invoice_id)
    context = _invoice_context(user, invoice)
    # Back from a gateway: its webhook (or the payer's return) pays the invoice, maybe later.
    context["back_from_gateway"] = (
        "paid" if "paid" in request.GET else "canceled" if "canceled" in request.GET else ""
    )
    return render(request, "portal/invoices/detail.html", context)


@page
def invoice_print(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """The invoice as one printable sheet, in the reader's language and time zone."""
    invoice = get_visible(visible_invoices(user).select_related("account"), invoice_id)
    context = invoice_document_context(invoice, pdf=False)
    return render(request, "portal/invoices/print.html", context)


@page
def invoice_pdf_view(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """The printable sheet as a PDF, downloaded (never shown inline)."""
    invoice = get_visible(visible_invoices(user).select_related("account"), invoice_id)
    answer = HttpResponse(invoice_pdf(request, invoice), content_type="application/pdf")
    answer["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number}.pdf"'
    return answer


@page
@require_POST
def invoice_checkout_view(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """Pay at a gateway: the browser goes to the gateway's page, and comes back to the
    invoice (paid once the gateway's webhook or the payer's return says so)."""
    invoice = get_visible(visible_invoices(user), invoice_id)
    gateway = request.POST.get("gateway", "")
    if gateway not in gateways_offered(invoice):
        return error_page(request, code="gateway_unavailable", status=422)
    page_url = f"{settings.PUBLIC_URL}{reverse('portal:invoice', args=[invoice.pk])}"
    url = invoice_checkout(
        invoice=invoice,
        actor=user,
        gateway=gateway,
        success_url=f"{page_url}?paid=1",
        cancel_url=f"{page_url}?canceled=1",
    )
    # Not a redirect: the CSP's form-action 'self' refuses a form's redirect to another site.
    # htmx goes there itself (HX-Redirect); without it, a page links there.
    if request.htmx:  # type: ignore[attr-defined]
        answer = HttpResponse(status=200)
        answer["HX-Redirect"] = url
        return answer
    return render(
        request,
        "portal/invoices/checkout.html",
        {"invoice": invoice, "url": url, "gateway": gateway},
    )


@page
@require_POST
def invoice_receipt_upload(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """Pay by bank transfer: the receipt goes to staff, who confirm it (the invoice is paid
    then) or reject it with a reason. A refusal about the file is shown next to it."""
    invoice = get_visible(visible_invoices(user), invoice_id)
    form = ReceiptForm(request.POST, request.FILES)
    status = 422
    if form.is_valid():
        try:
            receipt_upload(
                invoice=invoice,
                file=form.cleaned_data["file"],
                reference=form.cleaned_data["reference"],
                actor=user,
            )
        except DomainError as exc:
            if not _field_error(form, exc, RECEIPT_FIELD_OF_CODE):
                raise
            status = exc.status
        else:
            messages.success(
                request, _("Receipt sent. Staff check it; the invoice is paid once they confirm.")
            )
            return redirect("portal:invoice", invoice_id=invoice.pk)
    context = _invoice_context(user, invoice, receipt_form=form)
    return render(request, "portal/invoices/detail.html", context, status=status)


@page
@require_POST
def invoice_pay(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """Pay with credit: an htmx POST answered with the invoice's payment box; without htmx,
    back to the invoice page."""
    invoice = get_visible(visible_invoices(user), invoice_id)
    paid = invoice_pay_with_credit(invoice=invoice, actor=user)
    message = _("Paid with credit. The order is being delivered.")
    if request.htmx:  # type: ignore[attr-defined]
        context = _invoice_context(user, get_visible(visible_invoices(user), paid.pk))
        return render(request, "portal/invoices/_payment.html", {**context, "paid_now": message})
    messages.success(request, message)
    return redirect("portal:invoice", invoice_id=paid.pk)
