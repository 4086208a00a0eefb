"""The customer portal in a real browser: Debian's Chromium driven by Playwright against the
live server. Sign in, order, pay with credit, see the license active; switch to Persian and
see a right-to-left page with Jalali dates. Screenshots go to the test's tmp folder, or to
LICENSARY_TEST_ARTIFACTS when set."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect, sync_playwright

from licensary.accounts.models import User
from licensary.accounts.services import account_create
from licensary.catalog.models import Product
from licensary.licenses.models import License
from licensary.portal import formatting
from tests.helpers import PUBLIC_IP, give_credit, run_jobs

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long enough password"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    # CI installs it (.ci/run) and fails loudly if it cannot; a developer's machine may lack it.
    pytest.skip(
        f"{CHROMIUM} is missing: `apt-get install -y chromium` to run the browser tests",
        allow_module_level=True,
    )

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LICENSARY_TEST_ARTIFACTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium(monkeypatch: Any) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # (building the cast, running the delivery job) are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def alice_signs_in(staff: User) -> User:
    """alice, with a password to type and credit for one order."""
    alice = account_create(
        actor=None, kind="customer", email="alice@example.test", password=PASSWORD
    )
    give_credit(alice, 1500, staff)
    return alice


def refusals_of_the_policy(page: Page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_sign_in_order_pay_with_credit_and_see_the_license_active_in_english_and_persian(
    live_server: Any,
    chromium: Browser,
    alice_signs_in: User,
    product: Product,
    artifacts: Path,
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    csp_refusals = refusals_of_the_policy(page)

    page.goto(f"{live_server.url}/portal/")
    expect(page).to_have_url(f"{live_server.url}/portal/sign-in/?next=/portal/")
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_role("link", name="Order a license").first.click()
    page.get_by_label("Product").select_option("panel")
    page.get_by_label("Server IP address").fill("10.0.0.1")  # private: refused by the service
    page.get_by_role("button", name="Place the order").click()
    expect(page.locator("#id_ip_error")).to_have_text(
        "Enter the public IPv4 or IPv6 address of the server."
    )
    page.screenshot(path=str(artifacts / "order-error-en.png"), full_page=True)
    page.get_by_label("Server IP address").fill(PUBLIC_IP)
    page.get_by_role("button", name="Place the order").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("unpaid")
    expect(page.get_by_test_id("invoice-total")).to_have_text("$15.00")

    page.get_by_role("button", name="Pay with credit").click()  # an htmx POST
    expect(page.get_by_test_id("invoice-status")).to_have_text("paid")
    expect(page.get_by_text("Paid with credit. The order is being delivered.")).to_be_visible()
    page.screenshot(path=str(artifacts / "invoice-en.png"), full_page=True)

    run_jobs()  # the worker's delivery of the paid order
    page.get_by_role("link", name="Licenses", exact=True).click()
    expect(page.locator("table .badge")).to_have_text(["active"])
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("credit")).to_have_text("$0.00")
    page.screenshot(path=str(artifacts / "dashboard-en.png"), full_page=True)

    page.get_by_role("button", name="فارسی").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.get_by_role("heading", level=1)).to_have_text("پیشخوان")
    period_end = License.objects.get(account=alice_signs_in).period_end
    with translation.override("fa"):
        jalali = formatting.format_day(period_end)
    expect(page.get_by_text(jalali)).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-fa.png"), full_page=True)

    page.get_by_role("link", name="مجوزها").click()
    page.locator("table a").first.click()
    expect(page.get_by_test_id("license-status")).to_have_text("فعال")
    page.screenshot(path=str(artifacts / "license-fa.png"), full_page=True)

    assert csp_refusals == []
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "dashboard-en.png",
        "dashboard-fa.png",
        "invoice-en.png",
        "license-fa.png",
        "order-error-en.png",
    ]
