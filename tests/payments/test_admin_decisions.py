"""Staff settle receipts, refunds and held orders in the admin too, through the same services."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.billing.models import Receipt, Refund
from licensary.ledger.services import account_credit
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, api_for, run_jobs
from tests.payments.test_receipts import upload


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def console(db: Any) -> Client:
    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    client = Client()
    client.force_login(root)
    return client


def act(console: Client, model: str, action: str, pk: int) -> Any:
    return console.post(
        f"/admin/{model}/", {"action": action, "_selected_action": [pk]}, follow=True
    )


def test_staff_confirm_a_receipt_in_the_admin_and_the_order_is_delivered(alice, product, console):
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    assert act(console, "billing/receipt", "confirm", receipt_id).status_code == 200

    assert Receipt.objects.get(pk=receipt_id).status == "confirmed"
    run_jobs()
    assert Order.objects.get(pk=order.pk).status == "completed"


def test_staff_pay_a_refund_to_credit_in_the_admin(alice, product, console):
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    act(console, "billing/receipt", "confirm", receipt_id)
    Order.objects.filter(pk=order.pk).update(status="rejected")  # never delivered
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "not needed"})
        .json_body
    )

    act(console, "billing/refund", "approve_to_credit", int(refund["id"]))

    assert Refund.objects.get(pk=refund["id"]).status == "paid"
    assert account_credit(alice).amount == 1500


def test_the_invoice_page_shows_its_receipts(alice, product, console):
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    page = console.get(f"/admin/billing/invoice/{order.invoice_id}/change/")
    assert page.status_code == 200
    assert f"/api/v1/receipts/{receipt_id}/file".encode() in page.content


def test_staff_reject_a_held_order_in_the_admin_and_it_is_refunded(
    alice, bob, product, staff, console
):
    from licensary.billing.services import invoice_pay_with_credit
    from tests.helpers import give_credit

    for account in (alice, bob):
        give_credit(account, 1500, staff)
        held = order_create(actor=account, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=held.invoice, actor=account)
        run_jobs()
    held.refresh_from_db()
    assert held.status == "on_hold"

    page = act(console, "orders/order", "reject", held.pk)

    assert f"Order {held.pk}: rejected." in page.content.decode()
    assert Order.objects.get(pk=held.pk).status == "rejected"
    assert account_credit(bob).amount == 1500
