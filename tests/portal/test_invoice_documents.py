"""The printable invoice and its PDF: the owner's only, in the reader's language, calendar and
time zone; the PDF's text (pypdf) holds the invoice number and, in Persian, the Persian words,
shaped in the vendored Vazirmatn font; it reads nothing but the portal's static files."""

import io
import unicodedata
from datetime import UTC, datetime

import pytest
import time_machine
from pypdf import PdfReader

from licensary.accounts.models import User
from licensary.accounts.services import account_preferences_set
from licensary.catalog.models import Product
from licensary.orders.models import Order
from licensary.portal.invoice_documents import is_static_file
from tests.api.support import unpaid_order
from tests.helpers import OTHER_IP
from tests.portal.conftest import Browser

ISSUED = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # 02:00 on the 4th in Tehran


@pytest.fixture
def order(alice: User, product: Product) -> Order:
    with time_machine.travel(ISSUED, tick=False):
        return unpaid_order(alice, product, OTHER_IP)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Persian letters may come out in their presentation forms: fold them back (NFKC).
    return unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))


def test_the_printable_invoice_is_one_sheet_with_its_lines_and_total(
    alice_browser: Browser, order: Order
) -> None:
    answer = alice_browser.get(f"/portal/invoices/{order.invoice_id}/print/")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert f"<h1>Invoice {order.invoice.number}</h1>" in page
    assert "Panel Pro (system license) on 151.101.1.69, 30 days" in page
    assert '<td class="amount">$15.00</td>' in page
    assert '<dd data-testid="issued">Dec 3, 2026</dd>' in page
    assert 'href="/static/portal/invoice-print.css' in page
    assert "<nav" not in page


def test_the_pdf_is_an_attachment_holding_the_invoice_number(
    alice_browser: Browser, order: Order
) -> None:
    answer = alice_browser.get(f"/portal/invoices/{order.invoice_id}/pdf/")
    assert (answer.status_code, answer["Content-Type"]) == (200, "application/pdf")
    assert answer["Content-Disposition"] == (
        f'attachment; filename="invoice-{order.invoice.number}.pdf"'
    )
    text = pdf_text(answer.content)
    assert f"Invoice {order.invoice.number}" in text
    assert "$15.00" in text
    assert "Dec 3, 2026" in text


def test_the_persian_pdf_has_the_persian_words_and_the_jalali_day_in_the_account_s_zone(
    alice: User, alice_browser: Browser, order: Order
) -> None:
    account_preferences_set(account=alice, actor=alice, language="fa", time_zone="Asia/Tehran")
    answer = alice_browser.get(f"/portal/invoices/{order.invoice_id}/pdf/")
    text = pdf_text(answer.content).replace("\u200c", "")  # pypdf drops some ZWNJs
    number = str(order.invoice.number).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert answer.status_code == 200
    words = {line.split(" ", 1)[0]: line for line in text.splitlines()}
    assert "صورتحساب" in text
    assert number in text.splitlines()[0]
    assert "جمع کل" in text
    assert "پرداختنشده" in text  # unpaid
    # pypdf writes a run of digits inside right-to-left text in its visual order: ۱۳ as ۳۱.
    issued = words["تاریخ"]
    assert "آذر" in issued
    assert ("۱۳" in issued and "۱۴۰۵" in issued) or ("۳۱" in issued and "۵۰۴۱" in issued), issued
    fonts = {
        str(font.get("/BaseFont"))
        for page in PdfReader(io.BytesIO(answer.content)).pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index, union-attr]
        for font in [font.get_object()]
    }
    assert any("Vazirmatn" in name for name in fonts), fonts


def test_another_account_s_invoice_is_neither_printed_nor_a_pdf(
    bob_browser: Browser, order: Order
) -> None:
    assert bob_browser.get(f"/portal/invoices/{order.invoice_id}/print/").status_code == 404
    assert bob_browser.get(f"/portal/invoices/{order.invoice_id}/pdf/").status_code == 404


def test_the_pdf_reads_the_portal_s_static_files_and_nothing_else() -> None:
    from django.contrib.staticfiles import finders

    font = finders.find("portal/vendor/vazirmatn/Vazirmatn-Regular.woff2")
    assert isinstance(font, str)
    assert is_static_file(f"file://{font}") is True
    assert is_static_file("file:///etc/passwd") is False
    assert is_static_file(f"file://{font}/../../../../../../../etc/passwd") is False
    assert is_static_file("http://169.254.169.254/latest/meta-data/") is False
