"""Paying by bank transfer on the invoice page: the receipt is the billing service's (magic
bytes, size, the same transfer once), its refusals are shown next to the file and change
nothing, and the page lists the invoice's receipts with what staff decided."""

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Receipt
from licensary.billing.receipts import receipt_confirm, receipt_reject
from licensary.orders.models import Order
from tests.helpers import run_jobs
from tests.portal.conftest import Browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def receipt(content: bytes = PNG, name: str = "transfer.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/png")


def upload(browser: Browser, order: Order, file: SimpleUploadedFile, reference: str = "") -> Any:
    return browser.post(
        f"/portal/invoices/{order.invoice_id}/receipts/", {"file": file, "reference": reference}
    )


def test_a_receipt_sent_on_the_invoice_page_waits_for_staff(
    alice: User, alice_browser: Browser, alice_unpaid: Order
) -> None:
    answer = upload(alice_browser, alice_unpaid, receipt(), reference="TRX-2026-0042")
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"/portal/invoices/{alice_unpaid.invoice_id}/",
    )
    [kept] = Receipt.objects.filter(invoice_id=alice_unpaid.invoice_id)
    assert (kept.status, kept.reference, kept.uploaded_by_id, kept.original_name) == (
        Receipt.Status.PENDING,
        "TRX-2026-0042",
        alice.pk,
        "transfer.png",
    )
    page = alice_browser.get(f"/portal/invoices/{alice_unpaid.invoice_id}/").content.decode()
    assert "Receipt sent. Staff check it; the invoice is paid once they confirm." in page
    assert 'data-testid="receipt-status">pending<' in page
    assert "TRX-2026-0042" in page


def test_a_file_that_is_no_receipt_is_refused_next_to_it_and_nothing_is_kept(
    alice_browser: Browser, alice_unpaid: Order
) -> None:
    answer = upload(alice_browser, alice_unpaid, receipt(b"MZ\x90\x00 not an image", "x.exe"))
    page = answer.content.decode()
    assert answer.status_code == 415
    assert 'id="id_file_error"><li>Send a PDF, PNG, JPEG or WebP file.</li>' in page
    assert Receipt.objects.count() == 0


def test_an_empty_form_is_refused_next_to_the_file(
    alice_browser: Browser, alice_unpaid: Order
) -> None:
    answer = alice_browser.post(f"/portal/invoices/{alice_unpaid.invoice_id}/receipts/", {})
    assert answer.status_code == 422
    assert 'id="id_file_error"' in answer.content.decode()
    assert Receipt.objects.count() == 0


def test_the_same_transfer_twice_is_one_receipt(
    alice_browser: Browser, alice_unpaid: Order
) -> None:
    upload(alice_browser, alice_unpaid, receipt(), reference="TRX-1")
    again = upload(alice_browser, alice_unpaid, receipt(PNG + b"other scan"), reference="trx 1")
    assert again.status_code == 409
    assert "The same receipt cannot pay twice." in again.content.decode()
    assert Receipt.objects.count() == 1


def test_another_account_s_invoice_takes_no_receipt(
    bob_browser: Browser, alice_unpaid: Order
) -> None:
    answer = upload(bob_browser, alice_unpaid, receipt())
    assert answer.status_code == 404
    assert Receipt.objects.count() == 0


def test_a_paid_invoice_takes_no_receipt(alice_browser: Browser, alice_license: Order) -> None:
    answer = upload(alice_browser, alice_license, receipt())
    assert answer.status_code == 409
    assert 'data-code="invalid_transition"' in answer.content.decode()
    assert Receipt.objects.count() == 0


def test_the_page_shows_staff_s_decision(
    alice_browser: Browser, alice_unpaid: Order, staff: User
) -> None:
    upload(alice_browser, alice_unpaid, receipt(), reference="TRX-7")
    first = Receipt.objects.get()
    receipt_reject(receipt=first, reason="The scan is unreadable.", actor=staff)
    upload(alice_browser, alice_unpaid, receipt(PNG + b"better scan"), reference="TRX-7")
    receipt_confirm(receipt=Receipt.objects.get(status=Receipt.Status.PENDING), actor=staff)
    run_jobs()

    page = alice_browser.get(f"/portal/invoices/{alice_unpaid.invoice_id}/").content.decode()
    assert page.count('data-testid="receipt"') == 2
    assert 'data-testid="receipt-status">confirmed<' in page
    assert "The scan is unreadable." in page
    assert 'data-testid="invoice-status">paid<' in page
    assert "Send the receipt" not in page  # a paid invoice takes no more
    alice_unpaid.invoice.refresh_from_db()
    assert alice_unpaid.invoice.status == Invoice.Status.PAID


def test_a_receipt_s_file_is_served_to_its_owner_only(
    alice_browser: Browser, bob_browser: Browser, alice_unpaid: Order
) -> None:
    upload(alice_browser, alice_unpaid, receipt())
    kept = Receipt.objects.get()
    own = alice_browser.get(f"/api/v1/receipts/{kept.pk}/file")
    other = bob_browser.get(f"/api/v1/receipts/{kept.pk}/file")
    assert (own.status_code, other.status_code) == (200, 404)
    assert own["Content-Disposition"].startswith("attachment")
