"""The agent panel (issue 12 item 3): an agent's customers (create, open, order for one), its
wholesale prices, credit and statement, API tokens with scopes, and webhook endpoints with
their delivery log, replay, test event and secret rotation. Agents only: every other account
meets `not_found`, whatever it types, and an agent reaches only its own customers, tokens and
endpoints. Every read is the API's selector, every change the API's service; no view writes a
model. A token's text and an endpoint's secret are in the answer that makes them, and nowhere
else (never in a redirect, the session or a cache)."""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import ApiToken, IdentityDocument, User
from licensary.accounts.policy import accounts_listed
from licensary.accounts.services import (
    account_create,
    account_require_not_banned,
    token_create,
    token_revoke,
)
from licensary.billing.models import Invoice
from licensary.billing.selectors import visible_invoices
from licensary.billing.statements import MAX_DAYS, agent_statement, statement_span
from licensary.catalog.selectors import (
    agent_price_list,
    agent_tier_of,
    product_get_by_ref,
    visible_products,
)
from licensary.core.api import get_visible, paginate
from licensary.core.errors import DomainError, NotFound, ValidationFailed
from licensary.ledger.services import account_credit
from licensary.licenses.schemas import license_out
from licensary.licenses.selectors import visible_licenses
from licensary.notifications.models import WebhookEndpoint
from licensary.notifications.schemas import delivery_out
from licensary.notifications.selectors import (
    deliveries_of,
    delivery_get,
    endpoint_get_visible,
    endpoints_visible,
)
from licensary.notifications.services import (
    delivery_replay,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)
from licensary.orders.selectors import visible_orders
from licensary.orders.services import order_create
from licensary.portal.agent_forms import (
    AGENT_FIELD_OF_CODE,
    CustomerForm,
    IdentityForm,
    StatementForm,
    TokenForm,
    WebhookForm,
    WebhookStatusForm,
)
from licensary.portal.errors import explained
from licensary.portal.form_keys import form_key_issue, form_key_spent
from licensary.portal.forms import FIELD_OF_CODE, OrderForm
from licensary.portal.pages import page

P = ParamSpec("P")
AgentView = Callable[Concatenate[HttpRequest, User, P], HttpResponse]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_SIZE = 50
DELIVERIES_SHOWN = 20
UNPAID_SHOWN = 10
STATEMENT_DAYS = 30
FIELD_OF = {**FIELD_OF_CODE, **AGENT_FIELD_OF_CODE}


def agent_page(view: AgentView[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """A portal page for agent accounts only: any other account (a customer, an agent's
    customer, staff) meets `not_found`, as the API answers for another account's objects.
    A banned agent reads its pages and changes nothing (rule 6): some of the services called
    here (tokens, webhooks, customers) leave that gate to the API's authentication, so the
    panel asks it before every change, as the API does."""

    @wraps(view)
    def agents_only(request: HttpRequest, user: User, *args: P.args, **kwargs: P.kwargs) -> Any:
        if user.kind != User.Kind.AGENT:
            raise NotFound("No such page.")
        if request.method not in SAFE_METHODS:
            account_require_not_banned(user)
        return view(request, user, *args, **kwargs)

    return page(agents_only)


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


def _field_error(form: Any, exc: DomainError) -> bool:
    """Put a service's refusal next to the field it is about, in the reader's language; False
    when it is about no field of this form."""
    field = FIELD_OF.get(exc.code)
    if field is None or field not in form.fields:
        return False
    form.add_error(field, str(explained(exc.code)[1]))
    return True


# A form that shows a secret, sent again (the browser's reload): nothing is made twice.
SENT_BEFORE = _lazy(
    "That form was sent already, and what it made was shown then, once. Nothing new was made."
)


def _shown_once(response: HttpResponse) -> HttpResponse:
    """An answer carrying a secret: no cache keeps it, and Back does not show it again."""
    add_never_cache_headers(response)
    return response


def _selling_refusal(agent: User) -> str:
    """Why the agent cannot sell now ("" when it can): the rule `order_create` enforces
    (rule 12, `AGENTS_MUST_BE_VERIFIED`), said before the agent tries."""
    if not settings.LICENSARY["AGENTS_MUST_BE_VERIFIED"]:
        return ""
    return "" if agent.identity == User.Identity.VERIFIED else agent.identity


def _customer(user: User, customer_id: int) -> User:
    """The agent's own customer `customer_id`; `not_found` for any other account."""
    customer: User = get_visible(accounts_listed(user), customer_id)
    return customer


def _own_tokens(user: User) -> QuerySet[ApiToken]:
    # As `GET /api/v1/tokens` lists them: the account's own, newest first.
    return ApiToken.objects.filter(user=user).order_by("-pk")


# Overview ----------------------------------------------------------------------------------


def _dashboard_page(
    request: HttpRequest, user: User, *, identity_form: IdentityForm, status: int = 200
) -> HttpResponse:
    rejected = (
        IdentityDocument.objects.filter(account=user, status=IdentityDocument.Status.REJECTED)
        .order_by("-pk")
        .first()
        if user.identity == User.Identity.REJECTED
        else None
    )
    unpaid = visible_invoices(user).filter(account=user, status=Invoice.Status.UNPAID)
    return render(
        request,
        "portal/agent/dashboard.html",
        {
            "credit": account_credit(user),
            "customers": accounts_listed(user).count(),
            "unpaid": list(unpaid.order_by("due_at", "pk")[:UNPAID_SHOWN]),
            "unpaid_count": unpaid.count(),
            "refusal": _selling_refusal(user),
            "rejected": rejected,
            "identity_form": identity_form,
            "endpoints": endpoints_visible(user).count(),
            "tokens": _own_tokens(user).filter(revoked_at__isnull=True).count(),
        },
        status=status,
    )


@agent_page
def dashboard(request: HttpRequest, user: User) -> HttpResponse:
    return _dashboard_page(request, user, identity_form=IdentityForm())


@agent_page
@require_POST
def identity_upload(request: HttpRequest, user: User) -> HttpResponse:
    """The agent sends its identity document (rule 12); staff verify it, then it sells."""
    form = IdentityForm(request.POST, request.FILES)
    if not form.is_valid():
        return _dashboard_page(request, user, identity_form=form, status=422)
    try:
        identity_submit(account=user, file=form.cleaned_data["document"], actor=user)
    except DomainError as exc:
        if not _field_error(form, exc):
            raise
        return _dashboard_page(request, user, identity_form=form, status=exc.status)
    messages.success(request, _("Your document was sent. Staff check it; you can sell then."))
    return redirect("portal:agent-dashboard")


# Customers ---------------------------------------------------------------------------------


def _customers_page(
    request: HttpRequest, user: User, *, form: CustomerForm, status: int = 200
) -> HttpResponse:
    listed = paginate(
        accounts_listed(user), limit=PAGE_SIZE, cursor=_cursor(request), render=lambda a: a
    )
    return render(
        request,
        "portal/agent/customers.html",
        {"form": form, "customers": listed["items"], "next_cursor": listed["next_cursor"]},
        status=status,
    )


@agent_page
def customers(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the agent's customers and the form for a new one. POST: create it
    (`POST /api/v1/accounts {kind: customer, email}`)."""
    if request.method != "POST":
        return _customers_page(request, user, form=CustomerForm())
    form = CustomerForm(request.POST)
    if not form.is_valid():
        return _customers_page(request, user, form=form, status=422)
    try:
        customer = account_create(
            actor=user,
            kind=User.Kind.CUSTOMER,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"] or None,
        )
    except DomainError as exc:
        if not _field_error(form, exc):
            raise
        return _customers_page(request, user, form=form, status=exc.status)
    messages.success(request, _("The customer's account is made. Order a license for them."))
    return redirect("portal:agent-customer", customer_id=customer.pk)


@agent_page
def customer_detail(request: HttpRequest, user: User, customer_id: int) -> HttpResponse:
    """One customer: their licenses (as verification answers them) and the orders placed
    for them."""
    customer = _customer(user, customer_id)
    licenses = [
        {**license_out(lic), "product_name": lic.product.name}
        for lic in visible_licenses(user).filter(account=customer).order_by("-pk")[:PAGE_SIZE]
    ]
    orders = list(
        visible_orders(user)
        .filter(account=customer)
        .select_related("invoice")
        .order_by("-pk")[:PAGE_SIZE]
    )
    return render(
        request,
        "portal/agent/customer.html",
        {"customer": customer, "licenses": licenses, "orders": orders},
    )


@agent_page
def customer_order(request: HttpRequest, user: User, customer_id: int) -> HttpResponse:
    """An order for the customer (`POST /api/v1/orders {product, ip, account}`): the invoice
    is the agent's, at its wholesale price, paid from its credit; the license the customer's."""
    customer = _customer(user, customer_id)
    quotes = {q.product.slug: q for q in agent_price_list(user)}
    products = [
        (p.slug, p.name) for p in visible_products(user).filter(active=True).order_by("name")
    ]
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
                    account=customer,
                )
            except DomainError as exc:
                if not _field_error(form, exc):
                    raise
                status = exc.status
            else:
                messages.success(
                    request,
                    _("Order placed. Pay its invoice from your credit to deliver the license."),
                )
                return redirect("portal:invoice", invoice_id=order.invoice_id)
    prices = [quotes[slug] for slug, _name in products if slug in quotes]
    return render(
        request,
        "portal/agent/order.html",
        {
            "customer": customer,
            "form": form,
            "prices": prices,
            "refusal": _selling_refusal(user),
        },
        status=status,
    )


# Prices, credit and statement --------------------------------------------------------------


@agent_page
def prices(request: HttpRequest, user: User) -> HttpResponse:
    """`GET /api/v1/agents/{id}/prices`: its own price, its tier's, or the list price."""
    quotes = sorted(agent_price_list(user), key=lambda q: (q.product.name, q.product.pk))
    return render(
        request,
        "portal/agent/prices.html",
        {"quotes": quotes, "tier": agent_tier_of(user)},
    )


@agent_page
def statement(request: HttpRequest, user: User) -> HttpResponse:
    """`GET /api/v1/agents/{id}/statement?from=&to=`: what it sold (each line with its
    customer), what it paid, how its credit moved, between two days (the last 30 first)."""
    today = timezone.localdate()
    initial = {"start": today - timedelta(days=STATEMENT_DAYS), "end": today}
    form = StatementForm(request.GET if "start" in request.GET else None, initial=initial)
    if form.is_bound and not form.is_valid():
        context: dict[str, Any] = {"form": form, "statement": None}
        return render(request, "portal/agent/statement.html", context, status=422)
    chosen = form.cleaned_data if form.is_bound else initial
    try:
        start, end = statement_span(
            chosen["start"].isoformat(), chosen["end"].isoformat(), now=timezone.now()
        )
    except ValidationFailed:
        form.add_error(
            None, _("A statement covers at most %(days)s days.") % {"days": f"{MAX_DAYS}"}
        )
        context = {"form": form, "statement": None}
        return render(request, "portal/agent/statement.html", context, status=422)
    st = agent_statement(agent=user, start=start, end=end)
    return render(
        request,
        "portal/agent/statement.html",
        {
            "form": form,
            "statement": st,
            "last_day": end - timedelta(days=1),
            "totals": st.totals(),
        },
    )


# API tokens --------------------------------------------------------------------------------


def _tokens_page(
    request: HttpRequest,
    user: User,
    *,
    form: TokenForm,
    made: tuple[ApiToken, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    listed = paginate(
        _own_tokens(user), limit=PAGE_SIZE, cursor=_cursor(request), render=lambda t: t
    )
    response = render(
        request,
        "portal/agent/tokens.html",
        {
            "form": form,
            "tokens": listed["items"],
            "next_cursor": listed["next_cursor"],
            "made": made[0] if made else None,
            "text": made[1] if made else "",
            "now": timezone.now(),
            "form_key": form_key_issue(request),
        },
        status=status,
    )
    return _shown_once(response) if made else response


@agent_page
def tokens(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the agent's tokens. POST: a new one with the scopes chosen (`POST
    /api/v1/tokens`); its text is on the page that answers, this once."""
    if request.method != "POST":
        return _tokens_page(request, user, form=TokenForm())
    if form_key_spent(request):
        messages.info(request, SENT_BEFORE)
        return redirect("portal:agent-tokens")
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, user, form=form, status=422)
    made = token_create(
        user=user,
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        expires_at=form.expires_at(),
        actor=user,
    )
    return _tokens_page(request, user, form=TokenForm(), made=made, status=201)


@agent_page
@require_POST
def token_revoke_view(request: HttpRequest, user: User, token_id: int) -> HttpResponse:
    token = get_visible(_own_tokens(user), token_id)
    token_revoke(token=token, actor=user)
    messages.success(request, _("The token is revoked: it no longer works."))
    return redirect("portal:agent-tokens")


# Webhook endpoints -------------------------------------------------------------------------


def _webhooks_page(
    request: HttpRequest,
    user: User,
    *,
    form: WebhookForm,
    made: tuple[WebhookEndpoint, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    listed = paginate(
        endpoints_visible(user), limit=PAGE_SIZE, cursor=_cursor(request), render=lambda e: e
    )
    response = render(
        request,
        "portal/agent/webhooks.html",
        {
            "form": form,
            "endpoints": listed["items"],
            "next_cursor": listed["next_cursor"],
            "made": made[0] if made else None,
            "secret": made[1] if made else "",
            "limit": settings.LICENSARY["WEBHOOK_MAX_ENDPOINTS"],
            "form_key": form_key_issue(request),
        },
        status=status,
    )
    return _shown_once(response) if made else response


@agent_page
def webhooks(request: HttpRequest, user: User) -> HttpResponse:
    """GET: the agent's endpoints. POST: register one (`POST /api/v1/webhooks`); its secret
    is on the page that answers, this once."""
    if request.method != "POST":
        return _webhooks_page(request, user, form=WebhookForm())
    if form_key_spent(request):
        messages.info(request, SENT_BEFORE)
        return redirect("portal:agent-webhooks")
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _webhooks_page(request, user, form=form, status=422)
    try:
        made = endpoint_create(
            actor=user, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
        )
    except DomainError as exc:
        if exc.code == "webhook_limit":
            form.add_error(None, str(explained(exc.code)[1]))
        elif not _field_error(form, exc):
            raise
        return _webhooks_page(request, user, form=form, status=exc.status)
    return _webhooks_page(request, user, form=WebhookForm(), made=made, status=201)


def _deliveries(endpoint: WebhookEndpoint, status: str) -> dict[str, Any]:
    qs = deliveries_of(endpoint)
    if status:
        qs = qs.filter(status=status)
    rows = [delivery_out(m) for m in qs.order_by("-pk")[:DELIVERIES_SHOWN]]
    return {
        "endpoint": endpoint,
        "deliveries": rows,
        "status_filter": status,
        # The log refreshes itself while a delivery is still on its way.
        "pending": any(row["status"] == "pending" for row in rows),
    }


def _status_filter(request: HttpRequest) -> str:
    wanted = request.GET.get("status", "")
    return wanted if wanted in ("pending", "succeeded", "failed") else ""


def _webhook_page(
    request: HttpRequest, user: User, endpoint: WebhookEndpoint, *, secret: str = ""
) -> HttpResponse:
    response = render(
        request,
        "portal/agent/webhook.html",
        {
            **_deliveries(endpoint, _status_filter(request)),
            "secret": secret,
            "form_key": form_key_issue(request),
        },
    )
    return _shown_once(response) if secret else response


@agent_page
def webhook_detail(request: HttpRequest, user: User, webhook_id: int) -> HttpResponse:
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    return _webhook_page(request, user, endpoint)


@agent_page
def webhook_deliveries(request: HttpRequest, user: User, webhook_id: int) -> HttpResponse:
    """The delivery log alone, for htmx to swap in (`GET /api/v1/webhooks/{id}/deliveries`);
    without htmx, the endpoint's page."""
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    if not request.htmx:  # type: ignore[attr-defined]
        return _webhook_page(request, user, endpoint)
    context = _deliveries(endpoint, _status_filter(request))
    return render(request, "portal/agent/_deliveries.html", context)


@agent_page
@require_POST
def webhook_test(request: HttpRequest, user: User, webhook_id: int) -> HttpResponse:
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    endpoint_test(endpoint=endpoint, actor=user)
    messages.success(request, _("A test event is on its way; the log shows its delivery."))
    return redirect("portal:agent-webhook", webhook_id=endpoint.pk)


@agent_page
@require_POST
def webhook_rotate_secret(request: HttpRequest, user: User, webhook_id: int) -> HttpResponse:
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    if form_key_spent(request):
        messages.info(request, SENT_BEFORE)
        return redirect("portal:agent-webhook", webhook_id=endpoint.pk)
    rotated, secret = endpoint_rotate_secret(endpoint=endpoint, actor=user)
    return _webhook_page(request, user, rotated, secret=secret)


@agent_page
@require_POST
def webhook_status(request: HttpRequest, user: User, webhook_id: int) -> HttpResponse:
    """Enable (after failures disabled it) or disable the endpoint."""
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    form = WebhookStatusForm(request.POST)
    if not form.is_valid():
        raise ValidationFailed("status is enabled or disabled.")
    changed = endpoint_update(endpoint=endpoint, actor=user, status=form.cleaned_data["status"])
    if changed.status == WebhookEndpoint.Status.ENABLED:
        messages.success(request, _("The endpoint is enabled: events are sent to it again."))
    else:
        messages.success(request, _("The endpoint is disabled: nothing is sent to it."))
    return redirect("portal:agent-webhook", webhook_id=endpoint.pk)


@agent_page
@require_POST
def delivery_replay_view(
    request: HttpRequest, user: User, webhook_id: int, delivery_id: int
) -> HttpResponse:
    endpoint = endpoint_get_visible(actor=user, endpoint_id=webhook_id)
    message = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    delivery_replay(message=message, actor=user)
    messages.success(request, _("The delivery is sent again, with the same webhook-id."))
    return redirect("portal:agent-webhook", webhook_id=endpoint.pk)
