"""A platform that does not sell in USD (`LICENSARY_CURRENCY=EUR`): products, accounts, credit
and invoices all use the platform's currency, so credit pays; a product may name its own."""

from typing import Any

import pytest

from licensary.accounts.models import User
from licensary.ledger.services import account_credit
from tests.helpers import PUBLIC_IP, api_for, give_credit, make_account, run_jobs

EUR = {"amount": 1500, "currency": "EUR"}


@pytest.fixture
def euro_platform(settings: Any, db: Any) -> None:
    settings.LICENSARY = {**settings.LICENSARY, "CURRENCY": "EUR"}


def test_rule8_a_euro_platform_sells_and_credit_pays_the_whole_flow(euro_platform):
    sam = make_account("sam@staff.test", kind="staff")
    alice = make_account("alice@example.test")
    staff_api = api_for(sam)
    made = staff_api.post(
        "/products",
        {"slug": "panel", "name": "Panel Pro", "kind": "own", "price": 1000, "setup_fee": 500},
    )
    assert made.status_code == 201, made.json_body
    assert made.json_body["price"] == {"amount": 1000, "currency": "EUR"}
    assert made.json_body["setup_fee"] == {"amount": 500, "currency": "EUR"}
    give_credit(alice, 2000, sam)
    api = api_for(alice)
    assert api.get("/account").json_body["credit"] == {"amount": 2000, "currency": "EUR"}

    order = api.post("/orders", {"product": "panel", "ip": PUBLIC_IP})
    assert order.status_code == 201, order.json_body
    invoice = api.get(f"/invoices/{order.json_body['invoice']}").json_body
    assert invoice["total"] == EUR
    paid = api.post(f"/invoices/{invoice['id']}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body
    run_jobs()

    assert api.get(f"/orders/{order.json_body['id']}").json_body["status"] == "completed"
    assert api.get("/account").json_body["credit"] == {"amount": 500, "currency": "EUR"}
    assert account_credit(alice).currency == "EUR"


def test_rule8_every_account_takes_the_platform_currency(euro_platform):
    made_by_service = make_account("bob@example.test")
    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)

    assert (made_by_service.currency, root.currency) == ("EUR", "EUR")


def test_rule8_a_product_may_name_its_own_currency(euro_platform):
    sam = make_account("sam@staff.test", kind="staff")
    staff_api = api_for(sam)

    made = staff_api.post(
        "/products",
        {"slug": "panel-usd", "name": "Panel USD", "kind": "own", "price": 1000, "currency": "USD"},
    )
    refused = staff_api.post(
        "/products",
        {"slug": "panel-bad", "name": "Panel ?", "kind": "own", "price": 1000, "currency": "euro"},
    )

    assert made.status_code == 201, made.json_body
    assert made.json_body["price"] == {"amount": 1000, "currency": "USD"}
    assert (refused.status_code, refused.json_body["code"]) == (422, "validation_error")
