"""The same evidence is money once (rule 8, RELIABILITY "Money"): one bank transfer reported
twice on an invoice (the same file, or the same bank reference) is refused as
`duplicate_receipt`, by database constraints, under concurrency; and a receipt left pending on
an invoice that got paid meanwhile is shown to staff as such and becomes credit only when staff
say so (`to_credit`)."""

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice, Payment, Receipt
from licensary.billing.receipts import receipt_confirm
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.core.errors import DomainError
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, api_for, give_credit
from tests.payments.test_receipts import JPEG, PDF, PNG, files_under, upload

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Any) -> Any:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def store(data_dir: Any) -> Any:
    return data_dir / "receipts"


@pytest.fixture
def order(alice: User, product: Product) -> Order:
    """alice's unpaid order; its invoice is 1500."""
    return order_create(actor=alice, product=product, ip=PUBLIC_IP)


def assert_duplicate(response: Any) -> None:
    assert (response.status_code, response.json_body["code"]) == (409, "duplicate_receipt"), (
        response.json_body
    )
    assert response["Content-Type"] == PROBLEM


# One transfer, reported twice --------------------------------------------------------------


def test_rule8_the_same_receipt_file_twice_on_one_invoice_is_a_duplicate_and_paid_once(
    alice, staff, order, store
):
    api = api_for(alice)
    first = upload(api, order.invoice_id, "receipt.png", PNG, reference="TX-1")

    again = upload(api, order.invoice_id, "copy-of-receipt.png", PNG, reference="TX-2")

    assert first.status_code == 201, first.json_body
    assert_duplicate(again)
    assert again.json_body["receipt"] == first.json_body["id"]
    assert Receipt.objects.count() == 1
    assert len(files_under(store)) == 1  # the refused copy is not kept
    api_for(staff).post(f"/receipts/{first.json_body['id']}/confirm")
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(invoice=order.invoice).count() == 1
    assert account_credit(alice).amount == 0


@pytest.mark.parametrize("again", ["TX-2024-001", " tx-2024-001 ", "TX 2024 001", "tx2024/001"])
def test_rule8_the_same_bank_reference_twice_on_one_invoice_is_a_duplicate(
    alice, order, store, again
):
    api = api_for(alice)
    first = upload(api, order.invoice_id, "receipt.png", PNG, reference="TX-2024-001")

    second = upload(api, order.invoice_id, "scan.pdf", PDF, reference=again)

    assert first.status_code == 201, first.json_body
    assert_duplicate(second)
    assert Receipt.objects.count() == 1
    assert len(files_under(store)) == 1


def test_rule8_a_rejected_file_uploaded_again_is_still_the_same_evidence(alice, staff, order):
    api = api_for(alice)
    first = upload(api, order.invoice_id, "receipt.png", PNG, reference="TX-1").json_body
    api_for(staff).post(f"/receipts/{first['id']}/reject", {"reason": "Unreadable."})

    again = upload(api, order.invoice_id, "receipt.png", PNG, reference="TX-1")

    assert_duplicate(again)
    assert "rejected" in again.json_body["detail"]


def test_a_corrected_file_may_carry_the_reference_of_a_rejected_receipt(alice, staff, order):
    api = api_for(alice)
    first = upload(api, order.invoice_id, "receipt.png", PNG, reference="TX-1").json_body
    api_for(staff).post(f"/receipts/{first['id']}/reject", {"reason": "Unreadable."})

    corrected = upload(api, order.invoice_id, "better-scan.jpg", JPEG, reference="TX-1")

    assert corrected.status_code == 201, corrected.json_body
    # ...but only once: the corrected receipt now holds the reference.
    assert_duplicate(upload(api, order.invoice_id, "scan.pdf", PDF, reference="tx-1"))


def test_different_files_without_a_reference_are_different_receipts(alice, order):
    api = api_for(alice)
    for name, content in (("a.png", PNG), ("b.pdf", PDF), ("c.jpg", JPEG)):
        assert upload(api, order.invoice_id, name, content, reference=None).status_code == 201
    assert upload(api, order.invoice_id, "d.png", PNG, reference="  ").status_code == 409
    assert Receipt.objects.count() == 3


@pytest.mark.parametrize(
    ("content", "reference"), [(PNG, "TX-2"), (PDF, "tx 1")], ids=["same_file", "same_reference"]
)
def test_rule8_the_same_file_or_reference_on_another_invoice_is_a_duplicate(
    alice, bob, staff, product, order, content, reference
):
    """One bank transfer pays one invoice: not a second of the account's, nor another's."""
    mine = order_create(actor=alice, product=product, ip="93.184.216.35")
    theirs = order_create(actor=bob, product=product, ip="93.184.216.36")
    assert upload(api_for(alice), order.invoice_id, reference="TX-1").status_code == 201

    for account, other in ((alice, mine), (bob, theirs)):
        again = upload(api_for(account), other.invoice_id, "again", content, reference=reference)
        assert_duplicate(again)
        assert str(order.invoice.number) not in again.json_body["detail"]  # not whose
    assert Receipt.objects.count() == 1


def test_rule8_a_rejected_receipt_s_file_may_pay_another_invoice(alice, staff, product, order):
    first = upload(api_for(alice), order.invoice_id, reference="TX-1").json_body
    receipt_reject_by(staff, first["id"])
    other = order_create(actor=alice, product=product, ip="93.184.216.35")

    assert upload(api_for(alice), other.invoice_id, reference="TX-1").status_code == 201


def receipt_reject_by(staff: User, receipt_id: object) -> None:
    from licensary.billing.receipts import receipt_reject

    receipt_reject(receipt=Receipt.objects.get(pk=receipt_id), actor=staff, reason="wrong invoice")


def test_rule8_the_database_itself_refuses_one_file_or_reference_on_two_invoices(
    alice, bob, product, order
):
    other = order_create(actor=bob, product=product, ip="93.184.216.35").invoice
    _receipt(order.invoice, alice, sha256="a" * 64, reference_key="tx1", n=1)

    for sha256, key in (("a" * 64, ""), ("b" * 64, "tx1")):
        with pytest.raises(IntegrityError), transaction.atomic():
            _receipt(other, bob, sha256=sha256, reference_key=key, n=2)
    _receipt(other, bob, sha256="a" * 64, reference_key="tx1", status="rejected", n=3)


@pytest.mark.django_db(transaction=True)
def test_rule8_concurrent_uploads_of_one_transfer_to_two_invoices_keep_one_receipt(
    alice, bob, product, store
):
    require_postgres()
    invoices = [
        order_create(actor=account, product=product, ip=ip).invoice_id
        for account, ip in ((alice, PUBLIC_IP), (bob, "93.184.216.35"))
    ]
    apis = [api_for(alice if i % 2 == 0 else bob) for i in range(8)]

    def send(i: int) -> tuple[int, str | None]:
        response = upload(
            apis[i], invoices[i % 2], f"r{i}", PNG if i % 4 < 2 else PDF, reference="TX-77"
        )
        return response.status_code, (response.json_body or {}).get("code")

    results = run_concurrently(send, len(apis))

    assert not errors(results), errors(results)
    assert sorted(results) == [(201, None)] + [(409, "duplicate_receipt")] * 7
    assert Receipt.objects.count() == 1


def _receipt(
    invoice: Invoice,
    user: User,
    *,
    sha256: str,
    reference_key: str,
    status: str = "pending",
    n: int = 0,
) -> Receipt:
    return Receipt.objects.create(
        invoice=invoice,
        uploaded_by=user,
        stored_name=f"{n:032x}.png",
        content_type="image/png",
        size=1,
        sha256=sha256,
        reference_key=reference_key,
        status=status,
        created_at=timezone.now(),
    )


def test_rule8_the_database_itself_refuses_the_same_file_or_reference_on_one_invoice(alice, order):
    invoice = order.invoice
    _receipt(invoice, alice, sha256="a" * 64, reference_key="tx1", n=1)

    for sha256, key in (("a" * 64, ""), ("b" * 64, "tx1")):
        with pytest.raises(IntegrityError), transaction.atomic():
            _receipt(invoice, alice, sha256=sha256, reference_key=key, n=2)
    _receipt(invoice, alice, sha256="c" * 64, reference_key="", n=3)
    _receipt(invoice, alice, sha256="d" * 64, reference_key="", n=4)
    _receipt(invoice, alice, sha256="e" * 64, reference_key="tx2", status="rejected", n=5)
    _receipt(invoice, alice, sha256="f" * 64, reference_key="tx2", n=6)


@pytest.mark.django_db(transaction=True)
def test_rule8_concurrent_uploads_of_one_transfer_keep_one_receipt(alice, product, store):
    require_postgres()
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    apis = [api_for(alice) for _ in range(8)]

    def send(i: int) -> tuple[int, str | None]:
        # Half send the same file, half another file with the same reference.
        content = PNG if i % 2 else PDF
        response = upload(apis[i], order.invoice_id, f"r{i}", content, reference="TX-77")
        return response.status_code, (response.json_body or {}).get("code")

    results = run_concurrently(send, len(apis))

    assert not errors(results), errors(results)
    assert sorted(results) == [(201, None)] + [(409, "duplicate_receipt")] * 7
    assert Receipt.objects.count() == 1
    assert len(files_under(store)) == 1


# A receipt pending on an invoice that got paid meanwhile -----------------------------------


def test_rule8_a_pending_receipt_of_an_already_paid_invoice_needs_staff_s_explicit_decision(
    alice, staff, order
):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    staff_api = api_for(staff)

    shown = staff_api.get(f"/receipts/{receipt_id}").json_body
    plain = staff_api.post(f"/receipts/{receipt_id}/confirm")

    assert (shown["status"], shown["invoice_status"], shown["invoice_already_paid"]) == (
        "pending",
        "paid",
        True,
    )
    assert (plain.status_code, plain.json_body["code"]) == (409, "invoice_already_paid")
    assert plain["Content-Type"] == PROBLEM
    assert Receipt.objects.get().status == "pending"
    assert account_credit(alice).amount == 0
    assert not LedgerTransaction.objects.filter(kind="unapplied_payment").exists()

    decided = staff_api.post(f"/receipts/{receipt_id}/confirm", {"to_credit": True})

    assert decided.status_code == 200, decided.json_body
    assert (decided.json_body["status"], decided.json_body["invoice_already_paid"]) == (
        "confirmed",
        False,
    )
    assert account_credit(alice).amount == 1500
    assert Payment.objects.get(invoice=order.invoice).method == "credit"
    entry = AuditEntry.objects.get(action="receipt.confirmed")
    assert (entry.after["outcome"], entry.after["credited"], entry.after["to_credit"]) == (
        "credited",
        1500,
        True,
    )


def test_a_receipt_of_an_unpaid_invoice_is_not_flagged(alice, staff, order):
    receipt = upload(api_for(alice), order.invoice_id).json_body

    assert (receipt["invoice_status"], receipt["invoice_already_paid"]) == ("unpaid", False)
    # `to_credit` is permission, not an order: an invoice that can take the money takes it.
    confirmed = api_for(staff).post(f"/receipts/{receipt['id']}/confirm", {"to_credit": True})
    assert confirmed.status_code == 200, confirmed.json_body
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert account_credit(alice).amount == 0


def test_a_receipt_of_a_voided_invoice_also_waits_for_staff(alice, staff, order):
    from licensary.billing.services import invoice_void

    receipt = Receipt.objects.get(pk=upload(api_for(alice), order.invoice_id).json_body["id"])
    invoice_void(invoice=order.invoice, reason="order canceled", actor=staff)

    with pytest.raises(DomainError) as refused:
        receipt_confirm(receipt=receipt, actor=staff)

    assert refused.value.code == "invoice_not_payable"
    assert account_credit(alice).amount == 0
    receipt_confirm(receipt=receipt, actor=staff, to_credit=True)
    assert account_credit(alice).amount == 1500


def test_staff_can_list_the_pending_receipts_of_paid_invoices(alice, staff, product, order):
    other = order_create(actor=alice, product=product, ip="93.184.216.35")
    waiting = upload(api_for(alice), order.invoice_id).json_body["id"]
    upload(api_for(alice), other.invoice_id, "scan.pdf", PDF)
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    flagged = api_for(staff).get("/receipts?invoice_already_paid=true").json_body

    assert [r["id"] for r in flagged["items"]] == [waiting]
    assert api_for(staff).get("/receipts?invoice_already_paid=maybe").status_code == 422


@pytest.fixture
def console(db: Any) -> Any:
    from django.test import Client

    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    client = Client()
    client.force_login(root)
    return client


def test_the_admin_flags_receipts_of_paid_invoices_and_credits_them_only_when_told(
    alice, staff, product, order, console
):
    other = order_create(actor=alice, product=product, ip="93.184.216.35")
    waiting = upload(api_for(alice), order.invoice_id).json_body["id"]
    fresh = upload(
        api_for(alice), other.invoice_id, "scan.pdf", PDF, reference="TX-2024-002"
    ).json_body["id"]
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    flagged = console.get("/admin/billing/receipt/?invoice_already_paid=yes")
    confirm = console.post(
        "/admin/billing/receipt/", {"action": "confirm", "_selected_action": [waiting]}, follow=True
    )

    assert flagged.status_code == 200
    assert [r.pk for r in flagged.context["cl"].result_list] == [int(waiting)]
    assert "invoice already paid" in flagged.content.decode().lower()
    assert "is paid already" in confirm.content.decode()
    assert Receipt.objects.get(pk=waiting).status == "pending"
    assert account_credit(alice).amount == 0

    console.post(
        "/admin/billing/receipt/",
        {"action": "confirm_to_credit", "_selected_action": [waiting, fresh]},
        follow=True,
    )

    assert Receipt.objects.get(pk=waiting).status == "confirmed"
    assert Receipt.objects.get(pk=fresh).status == "confirmed"  # its invoice took the money
    assert Invoice.objects.get(pk=other.invoice_id).status == "paid"
    assert account_credit(alice).amount == 1500
