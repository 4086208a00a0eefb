"""Building objects for the API tests through the services, and reading the database's state."""

from typing import Any

from django.apps import apps
from django.db import transaction
from django.test import Client
from django.utils import timezone

from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import token_create
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.ledger.models import LedgerAccount, Posting
from licensary.orders.models import Order
from licensary.orders.services import hold_order, order_create
from tests.helpers import Api, give_credit, run_jobs

PROBLEM = "application/problem+json"


def unpaid_order(user: User, product: Product, ip: str, actor: User | None = None) -> Order:
    return order_create(actor=actor or user, product=product, ip=ip, account=user)


def paid_order(user: User, product: Product, ip: str, staff: User) -> Order:
    """An order paid from fresh credit; its delivery job is queued, not run."""
    order = unpaid_order(user, product, ip)
    give_credit(user, order.invoice.total, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=user)
    order.refresh_from_db()
    return order


def delivered_order(user: User, product: Product, ip: str, staff: User) -> Order:
    order = paid_order(user, product, ip, staff)
    run_jobs()
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED, order.status
    return order


def held_order(user: User, product: Product, ip: str, staff: User) -> Order:
    """A paid order staff must review. Run no jobs after this: its delivery job is queued."""
    order = paid_order(user, product, ip, staff)
    with transaction.atomic():
        hold_order(
            order_id=order.pk,
            reason=Order.HoldReason.SUPPLIER_UNAVAILABLE,
            detail="held for the test",
            actor=None,
        )
    order.refresh_from_db()
    assert order.status == Order.Status.ON_HOLD, order.status
    return order


def revoked_api(user: User) -> Api:
    token, text = token_create(user=user)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    return Api(text)


def raw_post(
    api: Api,
    path: str,
    body: bytes | str,
    content_type: str = "application/json",
    method: str = "post",
    headers: dict[str, str] | None = None,
) -> Any:
    """A request whose body is sent exactly as given (malformed JSON and the like)."""
    client: Client = api.client
    extra = dict(api.headers)
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    response = getattr(client, method)(
        f"/api/v1{path}", data=body, content_type=content_type, **extra
    )
    response.json_body = response.json() if response.content else None
    return response


def snapshot() -> dict[str, Any]:
    """Row counts of every Licensary model (audit entries included), the status of every order,
    invoice and license, and every ledger balance: equal snapshots mean nothing changed."""
    state: dict[str, Any] = {}
    for model in apps.get_models():
        if model.__module__.startswith("licensary.") or model._meta.app_label in (
            "django_tasks_db",
        ):
            state[model._meta.label] = model.objects.count()
    for label in ("orders.Order", "billing.Invoice", "licenses.License"):
        model = apps.get_model(label)
        state[label + ".status"] = sorted(model.objects.values_list("pk", "status"))
    state["licenses.License.ip"] = sorted(
        apps.get_model("licenses.License").objects.values_list("pk", "ip")
    )
    state["balances"] = sorted(
        (book.key, sum(Posting.objects.filter(account=book).values_list("amount", flat=True)))
        for book in LedgerAccount.objects.all()
    )
    state["products"] = sorted(
        Product.objects.values_list("pk", "slug", "price", "setup_fee", "period_days", "active")
    )
    state["users"] = sorted(User.objects.values_list("pk", "email", "kind", "status"))
    return state
