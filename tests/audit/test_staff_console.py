"""Rule 15 in the staff console (the Django admin): it is a console, not a back door. Money,
licenses, orders and the audit log are read-only there; an account changes only through an
audited service (its kind, superuser flag and currency not at all); a token is revoked, never
reassigned; terms are published through the same service as the API."""

from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.test import Client, RequestFactory

from licensary.accounts.models import ApiToken, TermsVersion, User
from licensary.accounts.services import token_create
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, give_credit, run_jobs


@pytest.fixture
def root(db: Any) -> User:
    return User.objects.create_superuser(email="root@staff.test", password="x" * 16)


@pytest.fixture
def console(root: User) -> Client:
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def delivered(alice, product, staff) -> Order:
    give_credit(alice, 2000, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    order.refresh_from_db()
    assert order.status == "completed"
    return order


def admin_url(obj: Any, view: str = "change") -> str:
    meta = obj._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/{view}/"


def everything(models: list[type]) -> list[list[dict[str, Any]]]:
    return [list(model.objects.order_by("pk").values()) for model in models]


def test_rule15_an_accounts_kind_superuser_flag_and_currency_cannot_be_changed(
    console, alice, staff
):
    give_credit(alice, 700, staff)
    before = everything([User, AuditEntry])

    response = console.post(
        admin_url(alice),
        {
            "email": alice.email,
            "kind": "staff",
            "is_superuser": "on",
            "is_staff": "on",
            "currency": "EUR",
            "status": "banned",
            "identity": "verified",
        },
    )

    assert response.status_code in (302, 403)
    assert everything([User, AuditEntry]) == before
    alice.refresh_from_db()
    assert (alice.kind, alice.is_superuser, alice.is_staff, alice.currency) == (
        "customer",
        False,
        False,
        "USD",
    )
    assert account_credit(alice).amount == 700  # still in view


def test_rule15_an_email_changed_in_the_console_is_audited(console, root, alice):
    response = console.post(admin_url(alice), {"email": "alice@new.example.test"})

    assert response.status_code == 302, response.content
    alice.refresh_from_db()
    assert alice.email == "alice@new.example.test"
    entry = AuditEntry.objects.filter(action="account.updated").get()
    assert (entry.actor_id, entry.account_id, entry.object_id) == (root.pk, alice.pk, str(alice.pk))
    assert (entry.before, entry.after) == (
        {"email": "alice@example.test"},
        {"email": "alice@new.example.test"},
    )


MONEY_AND_HISTORY = [
    LedgerAccount,
    LedgerTransaction,
    Posting,
    Invoice,
    Payment,
    Order,
    License,
    AuditEntry,
]


@pytest.mark.parametrize(
    "model", [LedgerAccount, LedgerTransaction, Payment, Invoice, AuditEntry, License, Order]
)
def test_rule15_money_licenses_orders_and_audit_rows_are_read_only(console, delivered, model):
    obj = model.objects.order_by("pk").first()
    before = everything(MONEY_AND_HISTORY)

    viewed = console.get(admin_url(obj))
    changed = console.post(
        admin_url(obj),
        {"amount": 1, "status": "void", "key": "x", "currency": "EUR", "action": "forged"},
    )
    deleted = console.post(admin_url(obj, "delete"), {"post": "yes"})
    added = console.post(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/add/", {})

    assert viewed.status_code == 200
    assert (changed.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    assert everything(MONEY_AND_HISTORY) == before


def test_rule15_a_token_is_revoked_in_the_console_never_reassigned(console, root, alice, bob):
    token, _ = token_create(user=alice)

    moved = console.post(admin_url(token), {"user": bob.pk, "name": "moved"})
    revoked = console.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )

    assert moved.status_code == 403
    assert revoked.status_code == 200
    token.refresh_from_db()
    assert (token.user_id, token.revoked_at is not None) == (alice.pk, True)
    entry = AuditEntry.objects.get(action="token.revoked")
    assert (entry.actor_id, entry.account_id, entry.object_id) == (root.pk, alice.pk, str(token.pk))
    assert console.post(admin_url(token, "delete"), {"post": "yes"}).status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_rule15_terms_published_in_the_console_are_numbered_and_audited(console, root):
    response = console.post("/admin/accounts/termsversion/add/", {"text": "Be nice."})

    assert response.status_code == 302, response.content
    terms = TermsVersion.objects.get()
    assert (terms.version, terms.text, terms.published_by_id) == (1, "Be nice.", root.pk)
    assert AuditEntry.objects.filter(action="terms.published").count() == 1
    assert console.post(admin_url(terms, "delete"), {"post": "yes"}).status_code == 403


def test_rule15_no_admin_screen_writes_a_raw_row(root):
    """Every screen that lets staff add or change a row saves it through its app's service
    (which writes the audit entry); every other screen is read-only."""
    request = RequestFactory().get("/admin/")
    request.user = root
    raw = []
    for model, model_admin in django_admin.site._registry.items():
        if not model.__module__.startswith("licensary."):
            continue
        writes = model_admin.has_add_permission(request) or model_admin.has_change_permission(
            request
        )
        if writes and type(model_admin).save_model is django_admin.ModelAdmin.save_model:
            raw.append(model.__name__)
    assert raw == [], f"these admin screens save raw rows: {raw}"
