"""Licenses and billing's invoices: renewal invoices, what a paid renewal line sets in
motion, and what rule 7 reads about the periods a license was paid for.

Billing writes every invoice (`billing.services.invoices_issue`); licenses says what a renewal
line is. The `renewal` line handler (`lifecycle.RenewalLines`) is registered with billing in
`LicensesConfig.ready`.
"""

from datetime import datetime

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from licensary.accounts.models import User
from licensary.billing.models import INVOICE_PAID, Invoice, InvoiceLine
from licensary.billing.services import InvoiceSpec, LineSpec, invoices_issue
from licensary.catalog.models import Product, kind_words
from licensary.catalog.selectors import Quote, list_quote, quotes_for
from licensary.licenses.models import License
from licensary.licenses.rules import period

S = License.Status
SWEEP_ACTOR = "system:sweep"


def renewal_line(lic: License, *, quote: Quote | None = None) -> LineSpec:
    """The renewal line of `lic` at its payer's price (`quote`; the list price without one);
    on an agent's invoice it names the customer."""
    start = lic.period_end if lic.status == S.ACTIVE else timezone.now()
    end = start + period()
    sold_to = lic.account_id if lic.payer_id != lic.account_id else None
    return LineSpec(
        kind=InvoiceLine.Kind.RENEWAL,
        amount=(quote or list_quote(lic.product)).price,
        license_id=lic.pk,
        period_start=start,
        period_end=end,
        description=f"{lic.product.name} ({kind_words(lic.kind)}) on {lic.ip}: renewal "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}" + (f", for {lic.account.email}" if sold_to else ""),
        customer_id=sold_to,
    )


def issue_renewal_invoices(
    licenses: list[License], *, now: datetime, actor: User | None = None
) -> list[int]:
    """One renewal invoice per license (each locked by the caller), numbered in one go, to
    its payer (the agent that sold it, at its wholesale price, or its owner); the license
    remembers the period end it was invoiced for, so it is never invoiced twice."""
    License.objects.filter(pk__in=[lic.pk for lic in licenses]).update(
        renewal_invoiced_for=F("period_end")
    )
    quotes = quotes_for(
        {lic.product_id: lic.product for lic in licenses}.values(),
        {lic.billed_to_id for lic in licenses if lic.billed_to_id},
    )
    invoices = invoices_issue(
        [
            InvoiceSpec(
                account_id=lic.payer_id,
                purpose=Invoice.Purpose.RENEWAL,
                currency=lic.product.currency,
                due_at=max(lic.period_end, now) if lic.status == S.ACTIVE else now,
                lines=(renewal_line(lic, quote=quotes.get((lic.product_id, lic.payer_id))),),
                about=(("license", lic.pk),),
            )
            for lic in licenses
        ],
        actor=actor,
        actor_label=SWEEP_ACTOR,
        issued_at=now,
    )
    return [invoice.pk for invoice in invoices]


def product_refund_terms(product: Product) -> dict[str, object]:
    """The manufacturer's refund terms of a catalog product, as rule 7 reads them."""
    return {"manufacturer_rule": product.refund_rule, "manufacturer_days": product.refund_days}


def license_refund_facts(invoice: Invoice, lic: License) -> dict[str, object]:
    """What rule 7 reads about `lic` as paid by `invoice` (an order's or a renewal's)."""
    period_days = settings.LICENSARY["PERIOD_DAYS"]
    return {
        "periods_elapsed": int((timezone.now() - lic.created_at).days // period_days),
        "unresolvable": lic.unresolvable_problems.exists(),
        **_period_facts(invoice, lic),
    }


def _period_facts(invoice: Invoice, lic: License) -> dict[str, object]:
    """What `invoice` paid for its period of `lic` (its line, not today's price), and whether
    that period is the current one: of the license's paid periods, the one that started last
    and not in the future. Each period is paid by one invoice, so it is refunded once."""
    now = timezone.now()
    # A new order's period starts when its license is issued (its invoice is the order's, the
    # one the license's order names); a renewal's line records its own.
    periods: list[tuple[datetime, int]] = [
        (lic.created_at, invoice_id)
        for invoice_id in Invoice.objects.filter(
            order__license=lic, status__in=INVOICE_PAID
        ).values_list("pk", flat=True)
    ]
    periods += [
        (start, invoice_id)
        for start, invoice_id in InvoiceLine.objects.filter(
            license=lic,
            kind=InvoiceLine.Kind.RENEWAL,
            invoice__status__in=INVOICE_PAID,
            period_start__isnull=False,
        ).values_list("period_start", "invoice_id")
        if start is not None
    ]
    started = [period for period in periods if period[0] <= now]
    current = max(started)[1] if started else None
    if invoice.purpose == Invoice.Purpose.ORDER:
        paid_lines = invoice.lines.filter(kind=InvoiceLine.Kind.LICENSE)
    else:
        paid_lines = invoice.lines.filter(kind=InvoiceLine.Kind.RENEWAL, license=lic)
    return {
        "period_price": sum(paid_lines.values_list("amount", flat=True)),
        "current_period": current == invoice.pk,
    }
