"""The staff console in a real browser (Debian's Chromium driven by Playwright): staff sign
in, see a held order overdue in the review queue, preview a bank receipt's image and confirm
it, then read the console in Persian, right to left, up to a ban's confirmation page; and
they read the overview's charts and retry a dead job.
Screenshots go to the test's tmp folder, or to LICENSARY_TEST_ARTIFACTS when set."""

import struct
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Browser, expect

from licensary.accounts.models import User
from licensary.accounts.services import account_create
from licensary.billing.models import Invoice, Receipt
from licensary.billing.receipts import receipt_upload
from licensary.catalog.models import Product
from licensary.jobs.models import DeadJob
from licensary.orders.models import Order
from tests.api.support import delivered_order, held_order, unpaid_order
from tests.jobs.dead import dead_job
from tests.jobs.tasks_for_tests import RUNS
from tests.portal.test_browser import (  # the same browser and screenshot folder
    CHROMIUM,
    PASSWORD,
    artifacts,
    chromium,
    refusals_of_the_policy,
)

__all__ = ["CHROMIUM", "artifacts", "chromium"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)

HELD_IP = "93.184.216.61"
UNPAID_IP = "93.184.216.60"


def png(width: int, height: int) -> bytes:
    """A real PNG (a blue receipt with a white band), so the preview draws something."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + (b"\xff\xff\xff" if height // 3 <= y < height // 2 else b"\x1f\x5f\xbf") * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def desk(staff: User, product: Product) -> dict[str, Any]:
    """A staff member with a password; alice's order held 49 hours ago; her receipt."""
    ops = account_create(actor=None, kind="staff", email="ops@staff.test", password=PASSWORD)
    alice = account_create(actor=None, kind="customer", email="alice@example.test")
    with time_machine.travel(timezone.now() - timedelta(hours=49)):
        held = held_order(alice, product, HELD_IP, staff)
    unpaid = unpaid_order(alice, product, UNPAID_IP)
    receipt = receipt_upload(
        invoice=unpaid.invoice,
        reference="TX-2026-118",
        file=SimpleUploadedFile("receipt.png", png(320, 180)),
        actor=alice,
    )
    return {"ops": ops, "alice": alice, "held": held, "receipt": receipt}


def test_staff_see_an_overdue_hold_confirm_a_receipt_and_read_the_console_in_persian(
    live_server: Any, chromium: Browser, desk: dict[str, Any], artifacts: Path
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    csp_refusals = refusals_of_the_policy(page)

    page.goto(f"{live_server.url}/portal/staff/")
    page.get_by_label("Email").fill("ops@staff.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff console")
    expect(page.get_by_test_id("count-held")).to_have_text("1")
    expect(page.get_by_test_id("count-overdue")).to_have_text("1 overdue")
    expect(page.get_by_test_id("count-receipts")).to_have_text("1")
    page.screenshot(path=str(artifacts / "staff-dashboard-en.png"), full_page=True)

    page.get_by_role("link", name="Review queue", exact=True).click()
    held = page.get_by_test_id(f"held-{desk['held'].pk}")
    expect(held.get_by_test_id("sla")).to_have_text("overdue")
    expect(held.get_by_test_id("age")).to_have_text("held 49 h of 48 h")
    page.screenshot(path=str(artifacts / "staff-review-en.png"), full_page=True)

    page.get_by_role("link", name="Receipts", exact=True).click()
    preview = page.get_by_role("img", name="The uploaded receipt")
    expect(preview).to_be_visible()
    # decode() waits for the file to arrive: visible is only the box, drawn is the file
    assert preview.evaluate("image => image.decode().then(() => image.naturalWidth)") == 320
    page.screenshot(path=str(artifacts / "staff-receipts-en.png"), full_page=True)
    page.get_by_role("button", name="Confirm the payment").click()
    expect(page.get_by_text("The receipt was confirmed and the money recorded.")).to_be_visible()
    expect(page.get_by_text("No receipt waits.")).to_be_visible()
    receipt = Receipt.objects.select_related("invoice").get(pk=desk["receipt"].pk)
    assert (receipt.status, receipt.invoice.status) == ("confirmed", Invoice.Status.PAID)

    page.get_by_role("button", name="فارسی").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("link", name="صف بررسی").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("صف بررسی")
    expect(held.get_by_test_id("sla")).to_have_text("دیرکرد")
    expect(held.get_by_test_id("age")).to_have_text("۴۹ ساعت از ۴۸ ساعت")
    page.screenshot(path=str(artifacts / "staff-review-fa.png"), full_page=True)

    page.get_by_role("link", name="محرومیت‌ها").click()
    page.get_by_label("ایمیل حساب").fill("alice@example.test")
    page.get_by_role("button", name="یافتن حساب").click()
    page.get_by_label("اشتراک‌گذاری: دادن دسترسی سرویس به شرکت‌ها یا افراد دیگر").check()
    page.get_by_label("یادداشت (همراه محرومیت نگه داشته می‌شود)").fill("فروش دوباره به دیگران")
    page.get_by_role("button", name="ببینید محرومیت چه می‌کند").click()
    expect(page.get_by_test_id("effect-orders")).to_have_text(
        "۲ سفارش پرداخت‌شدهٔ تحویل‌نشده بدون بازپرداخت رد می‌شود."  # held, and just paid
    )
    page.screenshot(path=str(artifacts / "staff-ban-confirm-fa.png"), full_page=True)
    assert User.objects.get(pk=desk["alice"].pk).status == User.Status.ACTIVE
    page.get_by_role("button", name="حساب را محروم کن").click()
    expect(page.get_by_text("حساب محروم شد.")).to_be_visible()
    alice = User.objects.get(pk=desk["alice"].pk)
    assert (alice.status, alice.ban_reason) == (User.Status.BANNED, "sharing")
    assert Order.objects.get(pk=desk["held"].pk).status == Order.Status.REJECTED

    assert csp_refusals == []
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "staff-ban-confirm-fa.png",
        "staff-dashboard-en.png",
        "staff-receipts-en.png",
        "staff-review-en.png",
        "staff-review-fa.png",
    ]


@pytest.fixture
def business(staff: User, product: Product, settings: Any) -> dict[str, Any]:
    """A staff member with a password; two delivered orders (this month's sales, two active
    licenses); a dead job; then one order held 30 hours and one 50 (no job runs after)."""
    ops = account_create(actor=None, kind="staff", email="ops@staff.test", password=PASSWORD)
    alice = account_create(actor=None, kind="customer", email="alice@example.test")
    for ip in ("93.184.216.81", "93.184.216.82"):
        delivered_order(alice, product, ip, staff)
    RUNS.clear()
    dead = dead_job(settings, label="mail-to-alice")
    now = timezone.now()
    for hours, ip in ((30, "93.184.216.83"), (50, "93.184.216.84")):
        with time_machine.travel(now - timedelta(hours=hours)):
            held_order(alice, product, ip, staff)
    return {"ops": ops, "dead": dead}


def test_staff_read_the_dashboard_charts_and_retry_a_dead_job(
    live_server: Any, chromium: Browser, business: dict[str, Any], artifacts: Path
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    csp_refusals = refusals_of_the_policy(page)

    page.goto(f"{live_server.url}/portal/staff/")
    page.get_by_label("Email").fill("ops@staff.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    charts = page.get_by_role("img")
    expect(page.get_by_role("img", name="Held orders by age")).to_be_visible()
    expect(page.get_by_role("img", name="Net sales by month (USD)")).to_be_visible()
    expect(page.get_by_role("img", name="Licenses by status at each month's end")).to_be_visible()
    expect(page.get_by_role("img", name="Changes recorded per hour")).to_be_visible()
    assert charts.count() >= 4
    held = page.get_by_test_id("chart-held")
    # The bars are drawn: 24-48 h (within target) and 48 h or more (overdue), one each.
    assert held.locator("rect.bar.s-overdue").evaluate_all(
        "bars => bars.map(b => b.getBBox().height > 0)"
    ) == [False, False, False, True]
    # The colours come from the stylesheet (the CSP refuses inline styles).
    fill = held.locator("rect.bar.s-overdue").last.evaluate("b => getComputedStyle(b).fill")
    assert fill == "rgb(180, 35, 24)"
    page.get_by_text("The numbers, as a table").first.click()
    expect(page.get_by_test_id("chart-revenue-usd-table")).to_be_visible()
    page.screenshot(path=str(artifacts / "staff-dashboard-charts-en.png"), full_page=True)

    page.get_by_role("link", name="Dead jobs", exact=True).click()
    dead = page.get_by_test_id(f"dead-{business['dead'].pk}")
    expect(dead).to_contain_text("JobFailed: mail-to-alice failed (run 2)")
    page.screenshot(path=str(artifacts / "staff-dead-jobs-en.png"), full_page=True)
    dead.get_by_role("button", name="Retry the job").click()
    expect(page.get_by_text("The job is queued again, from its first attempt.")).to_be_visible()
    expect(page.get_by_text("No job is dead.")).to_be_visible()
    assert DeadJob.objects.get(pk=business["dead"].pk).resolved_at is not None
    assert (
        DBTaskResult.objects.filter(status="READY", task_path=business["dead"].task_path).count()
        == 1
    )

    page.get_by_role("button", name="فارسی").click()
    page.get_by_role("link", name="نمای کلی").click()
    expect(page.get_by_role("img", name="سفارش‌های نگه‌داشته بر اساس مدت انتظار")).to_be_visible()
    page.screenshot(path=str(artifacts / "staff-dashboard-charts-fa.png"), full_page=True)

    assert csp_refusals == []
    # The folder may be shared with the other browser tests (LICENSARY_TEST_ARTIFACTS).
    assert {p.name for p in artifacts.iterdir()} >= {
        "staff-dashboard-charts-en.png",
        "staff-dashboard-charts-fa.png",
        "staff-dead-jobs-en.png",
    }
