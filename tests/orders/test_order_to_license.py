"""The core flow: order -> invoice -> pay with credit -> delivered license."""

from licensary.billing.models import Invoice
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs


def test_paid_order_is_delivered_as_an_active_license(alice, product, staff):
    give_credit(alice, 2000, staff)
    api = api_for(alice)

    created = api.post("/orders", {"product": "panel", "ip": PUBLIC_IP})
    assert created.status_code == 201, created.json_body
    order = created.json_body
    assert order["status"] == "awaiting_payment"
    invoice = api.get(f"/invoices/{order['invoice']}").json_body
    assert [(line["kind"], line["amount"]["amount"]) for line in invoice["lines"]] == [
        ("license", 1000),
        ("setup_fee", 500),
    ]
    assert invoice["total"] == {"amount": 1500, "currency": "USD"}

    paid = api.post(f"/invoices/{invoice['id']}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body
    assert paid.json_body["status"] == "paid"
    assert account_credit(alice).amount == 500
    assert Order.objects.get(pk=order["id"]).status == "processing"

    run_jobs()

    order = api.get(f"/orders/{order['id']}").json_body
    assert order["status"] == "completed"
    lic = api.get(f"/licenses/{order['license']}").json_body
    assert lic["status"] == "active"
    assert lic["kind"] == "own"
    assert lic["ip"] == PUBLIC_IP
    history = api.get(f"/licenses/{order['license']}/history").json_body["items"]
    assert [h["action"] for h in history] == ["license.issued"]
    assert License.objects.count() == 1
    assert Invoice.objects.get(pk=invoice["id"]).status == "paid"


def test_paying_without_enough_credit_changes_nothing(alice, product, staff):
    give_credit(alice, 1499, staff)
    api = api_for(alice)
    order = api.post("/orders", {"product": "panel", "ip": PUBLIC_IP}).json_body

    refused = api.post(f"/invoices/{order['invoice']}/pay-with-credit")

    assert refused.status_code == 402
    assert refused.json_body["code"] == "insufficient_credit"
    assert refused["Content-Type"] == "application/problem+json"
    assert account_credit(alice).amount == 1499
    assert Invoice.objects.get(pk=order["invoice"]).status == "unpaid"
