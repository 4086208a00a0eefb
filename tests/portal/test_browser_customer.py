"""The customer's account and bank transfers in a real browser (Debian's Chromium driven by
Playwright): alice sends a bank receipt on her invoice, chooses Persian and Tehran's time on
her account page and reads the invoice right to left with its Jalali date in her time zone;
staff confirm the receipt in the staff console and her invoice reads paid; she forgets her
password and sets a new one from the reset mail. Screenshots go to the test's tmp folder, or
to LICENSARY_TEST_ARTIFACTS when set."""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone, translation
from playwright.sync_api import Browser, Page, expect

from licensary.accounts.models import User
from licensary.accounts.services import account_create
from licensary.billing.models import Invoice, Receipt
from licensary.catalog.models import Product
from licensary.orders.models import Order
from licensary.portal import formatting
from tests.api.support import unpaid_order
from tests.helpers import run_jobs
from tests.portal.test_browser import (  # the same browser and screenshot folder
    CHROMIUM,
    PASSWORD,
    artifacts,
    chromium,
    refusals_of_the_policy,
)
from tests.portal.test_browser_staffconsole import png

__all__ = ["CHROMIUM", "artifacts", "chromium"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)

UNPAID_IP = "93.184.216.70"
NEW_PASSWORD = "another long enough password"
# 22:30 UTC is 02:00 the next day in Tehran: the invoice's day depends on the time zone.
ISSUED = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)


@pytest.fixture
def desk(staff: User, product: Product) -> dict[str, Any]:
    ops = account_create(actor=None, kind="staff", email="ops@staff.test", password=PASSWORD)
    alice = account_create(
        actor=None, kind="customer", email="alice@example.test", password=PASSWORD
    )
    with time_machine.travel(ISSUED, tick=False):
        order = unpaid_order(alice, product, UNPAID_IP)
    return {"ops": ops, "alice": alice, "order": order}


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_receipt_confirmed_by_staff_pays_the_invoice_she_reads_in_persian_in_her_time(
    live_server: Any, chromium: Browser, desk: dict[str, Any], artifacts: Path, tmp_path: Path
) -> None:
    order: Order = desk["order"]
    invoice_url = f"{live_server.url}/portal/invoices/{order.invoice_id}/"
    alice = chromium.new_page(viewport={"width": 1280, "height": 900})
    csp_refusals = refusals_of_the_policy(alice)
    sign_in(alice, invoice_url, "alice@example.test", PASSWORD)
    expect(alice.get_by_test_id("invoice-status")).to_have_text("unpaid")
    expect(alice.get_by_text("Dec 3, 2026").first).to_be_visible()  # issued, in UTC

    scan = tmp_path / "bank-receipt.png"
    scan.write_bytes(png(320, 180))
    alice.get_by_label("Receipt").set_input_files(str(scan))
    alice.get_by_label("Bank reference").fill("TX-2026-204")
    alice.get_by_role("button", name="Send the receipt").click()
    expect(
        alice.get_by_text("Receipt sent. Staff check it; the invoice is paid once they confirm.")
    ).to_be_visible()
    expect(alice.get_by_test_id("receipt-status")).to_have_text("pending")
    alice.screenshot(path=str(artifacts / "invoice-receipt-en.png"), full_page=True)

    alice.get_by_role("link", name="alice@example.test").click()
    alice.get_by_label("Language", exact=True).select_option("fa")
    alice.get_by_label("Time zone", exact=True).select_option("Asia/Tehran")
    alice.get_by_role("button", name="Save").click()
    expect(alice.locator("html")).to_have_attribute("dir", "rtl")
    expect(alice.get_by_text("تنظیمات ذخیره شد.")).to_be_visible()
    alice.goto(invoice_url)
    expect(alice.locator("html")).to_have_attribute("lang", "fa")
    with translation.override("fa"), timezone.override("Asia/Tehran"):
        issued = formatting.format_day(order.invoice.issued_at)
    assert issued == "۱۳ آذر ۱۴۰۵"  # the 4th of December in Tehran, in the Jalali calendar
    expect(alice.get_by_text(issued, exact=True)).to_be_visible()
    expect(alice.get_by_test_id("receipt-status")).to_have_text("در انتظار بررسی")
    alice.screenshot(path=str(artifacts / "invoice-receipt-fa.png"), full_page=True)

    staff = chromium.new_page(viewport={"width": 1280, "height": 900})
    staff_refusals = refusals_of_the_policy(staff)
    sign_in(staff, f"{live_server.url}/portal/staff/", "ops@staff.test", PASSWORD)
    staff.get_by_role("link", name="Receipts", exact=True).click()
    expect(staff.get_by_text("TX-2026-204")).to_be_visible()
    staff.get_by_role("button", name="Confirm the payment").click()
    expect(staff.get_by_text("The receipt was confirmed and the money recorded.")).to_be_visible()
    receipt = Receipt.objects.select_related("invoice").get(invoice_id=order.invoice_id)
    assert (receipt.status, receipt.invoice.status) == ("confirmed", Invoice.Status.PAID)

    alice.reload()
    expect(alice.get_by_test_id("invoice-status")).to_have_text("پرداخت‌شده")
    expect(alice.get_by_test_id("receipt-status")).to_have_text("تأییدشده")
    alice.screenshot(path=str(artifacts / "invoice-paid-fa.png"), full_page=True)

    alice.get_by_role("link", name="نسخهٔ چاپی صورت‌حساب").click()
    expect(alice.locator("html")).to_have_attribute("dir", "rtl")
    expect(alice.get_by_test_id("issued")).to_have_text(issued)
    alice.screenshot(path=str(artifacts / "invoice-print-fa.png"), full_page=True)

    assert (csp_refusals, staff_refusals) == ([], [])


def test_a_forgotten_password_is_set_again_from_the_reset_mail(
    live_server: Any, chromium: Browser, desk: dict[str, Any], artifacts: Path
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    csp_refusals = refusals_of_the_policy(page)
    page.goto(f"{live_server.url}/portal/sign-in/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
    page.screenshot(path=str(artifacts / "password-reset-sent-en.png"), full_page=True)

    run_jobs()  # the worker sends the outbox's mail
    [message] = [m for m in mail.outbox if m.subject == "Reset your password"]
    link = re.search(r"http://127\.0\.0\.1:8000(\S+)", message.body)
    assert link is not None
    page.goto(f"{live_server.url}{link.group(1)}")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.screenshot(path=str(artifacts / "password-reset-choose-en.png"), full_page=True)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your password is set")

    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    assert csp_refusals == []
