"""The customer's money beyond paying an invoice: a deposit (an invoice that becomes credit)
and a refund request on a paid invoice, which shows the refund policy's answer (its rule and
the eligible amount) before it is asked for and as it was recorded after. Reads are the API's
selectors, changes the API's services."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from licensary.accounts.models import User
from licensary.accounts.services import account_require_not_banned
from licensary.billing.models import Invoice
from licensary.billing.refunds import refund_quote, refund_request
from licensary.billing.selectors import visible_invoices, visible_refunds
from licensary.billing.services import deposit_create
from licensary.core.api import get_visible
from licensary.portal.forms import DepositForm, RefundForm
from licensary.portal.pages import page

REFUNDABLE = (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED)

# Each rule of the refund policy (billing/refund_policy.py), in the reader's words.
RULE_WORDS: dict[str, Promise] = {
    "nothing_left": gettext_lazy("Everything paid has been refunded already, or is on its way."),
    "deposit_not_refundable": gettext_lazy("Credit deposits are never refunded."),
    "never_delivered": gettext_lazy("The order was never delivered, so all of it is refunded."),
    "awaiting_delivery": gettext_lazy(
        "The order is not delivered yet; if staff reject it, it is refunded in full."
    ),
    "manufacturer_within_days": gettext_lazy(
        "The manufacturer refunds within its number of days, and they have not passed."
    ),
    "manufacturer_window_passed": gettext_lazy(
        "The manufacturer refunds only within a number of days of payment, which have passed."
    ),
    "manufacturer_manual": gettext_lazy(
        "The manufacturer decides case by case; staff set the amount."
    ),
    "manufacturer_no_refund": gettext_lazy("This manufacturer does not refund its licenses."),
    "own_activated_no_refund": gettext_lazy(
        "System licenses are not refunded once activated, unless staff mark the licensing "
        "problem on your ticket as unresolvable."
    ),
    "own_unresolvable_not_current_period": gettext_lazy(
        "A full period has passed, so only the current period is refunded, on the invoice "
        "that paid for it; this invoice paid another period."
    ),
    "own_unresolvable_current_period": gettext_lazy(
        "The problem is unresolvable and a full period has passed: what was paid for the "
        "current period is refunded."
    ),
    "own_unresolvable_less_setup_fee": gettext_lazy(
        "The problem is unresolvable within the first period: everything paid less the setup "
        "fee is refunded."
    ),
}


def rule_words(rule: str, explanation: str) -> str:
    """The rule's sentence in the reader's language; the policy's own words for a rule this
    page does not know yet."""
    words = RULE_WORDS.get(rule)
    return str(words) if words is not None else explanation


def refund_context(user: User, invoice: Invoice) -> dict[str, object]:
    """What the invoice page shows of refunds: the policy's answer now (before asking), and
    the requests made, each with the answer recorded when it was asked (after)."""
    if invoice.status not in REFUNDABLE and not invoice.refunds.exists():
        return {}
    refunds = list(visible_refunds(user).filter(invoice=invoice).order_by("-pk"))
    open_refund = any(r.status in ("requested", "approved") for r in refunds)
    context: dict[str, object] = {
        "refunds": [(r, rule_words(r.rule, r.explanation)) for r in refunds],
        "refund_open": open_refund,
    }
    if invoice.status in REFUNDABLE and not open_refund:
        quote = refund_quote(invoice)
        context["refund_quote"] = quote
        context["refund_quote_words"] = rule_words(quote.rule, quote.explanation)
        context["refund_form"] = RefundForm()
    return context


@page
def deposit_new(request: HttpRequest, user: User) -> HttpResponse:
    """Add credit: a deposit invoice for the amount asked, paid at a gateway or by transfer."""
    form = DepositForm(request.POST or None, currency=user.currency)
    if request.method == "POST":
        if form.is_valid():
            invoice = deposit_create(account=user, amount=form.cleaned_data["amount"], actor=user)
            messages.success(
                request, _("Here is the deposit invoice. Once it is paid, the amount is credit.")
            )
            return redirect("portal:invoice", invoice_id=invoice.pk)
        return render(request, "portal/deposits/new.html", {"form": form}, status=422)
    return render(request, "portal/deposits/new.html", {"form": form})


@page
@require_POST
def invoice_refund(request: HttpRequest, user: User, invoice_id: int) -> HttpResponse:
    """Ask for a refund of a paid invoice, with a reason; staff decide, the policy's answer
    is recorded with the request."""
    invoice = get_visible(visible_invoices(user), invoice_id)
    account_require_not_banned(user)  # rule 6: a ban refunds nothing
    form = RefundForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why you ask for the refund."))
        return redirect("portal:invoice", invoice_id=invoice.pk)
    refund_request(invoice=invoice, reason=form.cleaned_data["reason"], actor=user)
    messages.success(request, _("Refund asked for. Staff decide; the page shows their answer."))
    return redirect("portal:invoice", invoice_id=invoice.pk)
