"""The agent panel in a real browser (Debian's Chromium driven by Playwright): carol signs in,
creates a customer, orders for him, pays with her credit and sees his license active on his
page; makes an API token and a webhook endpoint and sends it a test event, which the log
shows delivered; then reads the panel in Persian, right to left, with Jalali dates.
Screenshots go to the test's tmp folder, or to LICENSARY_TEST_ARTIFACTS when set."""

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from playwright.sync_api import Browser, expect
from standardwebhooks import Webhook

from licensary.accounts.identity import identity_submit, identity_verify
from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import account_create
from licensary.catalog.models import Product
from licensary.catalog.services import wholesale_price_set
from licensary.licenses.models import License
from licensary.portal import formatting
from tests.helpers import PUBLIC_IP, Api, give_credit, run_jobs
from tests.notifications.conftest import private_ips, receiver
from tests.notifications.receiver import Receiver
from tests.portal.test_browser import (  # the same browser and screenshot folder
    CHROMIUM,
    PASSWORD,
    artifacts,
    chromium,
    refusals_of_the_policy,
)

__all__ = ["CHROMIUM", "artifacts", "chromium", "private_ips", "receiver"]  # fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def carol_signs_in(staff: User, product: Product) -> User:
    """carol, a verified agent with a password to type, $20.00 of credit, and her own price
    for `product`: $7.00 a period and $2.00 setup (the list: $10.00 and $5.00)."""
    carol = account_create(actor=None, kind="agent", email="carol@agent.test", password=PASSWORD)
    document = SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\n" + b"carol" * 8)
    identity_submit(account=carol, file=document, actor=carol)
    carol = identity_verify(account=carol, actor=staff)
    give_credit(carol, 2000, staff)
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=200)
    return carol


def test_an_agent_sells_to_a_customer_and_wires_its_integration_in_english_and_persian(
    live_server: Any,
    chromium: Browser,
    carol_signs_in: User,
    receiver: Receiver,
    artifacts: Path,
) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    csp_refusals = refusals_of_the_policy(page)

    page.goto(f"{live_server.url}/portal/agent/")
    page.get_by_label("Email").fill("carol@agent.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agent panel")
    expect(page.get_by_test_id("agent-credit")).to_have_text("$20.00")
    expect(page.get_by_test_id("cannot-sell")).to_have_count(0)
    page.screenshot(path=str(artifacts / "agent-dashboard-en.png"), full_page=True)

    # A customer, and an order for him: the invoice is carol's, at her price.
    page.get_by_role("link", name="Create your first customer").click()
    page.get_by_label("Customer's email").fill("dave@example.test")
    page.get_by_role("button", name="Create the customer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("dave@example.test")
    expect(page.get_by_text("No licenses yet. Order one for this customer")).to_be_visible()
    page.get_by_role("link", name="Order a license for this customer").click()
    page.get_by_label("Product").select_option("panel")
    page.get_by_label("Server IP address").fill(PUBLIC_IP)
    page.screenshot(path=str(artifacts / "agent-order-en.png"), full_page=True)
    page.get_by_role("button", name="Place the order").click()
    expect(page.get_by_test_id("invoice-total")).to_have_text("$9.00")
    page.get_by_role("button", name="Pay with credit").click()  # an htmx POST
    expect(page.get_by_test_id("invoice-status")).to_have_text("paid")

    run_jobs()  # the worker's delivery of the paid order
    page.get_by_role("link", name="Agent panel").click()
    expect(page.get_by_test_id("agent-credit")).to_have_text("$11.00")
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_role("link", name="dave@example.test").click()
    expect(page.get_by_test_id("customer-license-status")).to_have_text(["active"])
    page.screenshot(path=str(artifacts / "agent-customer-en.png"), full_page=True)
    dave = User.objects.get(email="dave@example.test")
    lic = License.objects.get(ip=PUBLIC_IP)
    assert (dave.agent_id, lic.account_id, lic.billed_to_id) == (
        carol_signs_in.pk,
        dave.pk,
        carol_signs_in.pk,
    )

    # An API token with two scopes, shown once and working.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("shop")
    page.get_by_label("read: every GET").check()
    page.get_by_label("orders: orders, renewals, IP changes, your customers").check()
    page.get_by_role("button", name="Make the token").click()
    token = page.get_by_test_id("new-token").inner_text()
    page.screenshot(path=str(artifacts / "agent-token-en.png"), full_page=True)
    assert ApiToken.objects.get(user=carol_signs_in).scopes == ["read", "orders"]
    assert Api(token).get("/licenses").json_body["items"][0]["ip"] == PUBLIC_IP

    # A webhook endpoint and a test event, delivered and signed with the secret shown once.
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    page.get_by_label("Endpoint URL (https)").fill(receiver.url)
    page.get_by_label("invoice.paid").check()
    page.get_by_label("license.blocked").check()
    page.get_by_role("button", name="Register the endpoint").click()
    secret = page.get_by_test_id("new-secret").inner_text()
    page.get_by_role("link", name="Open the endpoint and send a test event").click()
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text("A test event is on its way")).to_be_visible()
    expect(page.get_by_test_id("delivery-status")).to_have_text(["on its way"])
    run_jobs()  # the worker's delivery of the webhook
    page.get_by_role("link", name="Refresh").click()  # htmx swaps the log in
    expect(page.get_by_test_id("delivery-status")).to_have_text(["succeeded"])
    page.screenshot(path=str(artifacts / "agent-webhook-en.png"), full_page=True)
    [received] = receiver.requests
    assert Webhook(secret).verify(received.body, received.headers)["type"] == "webhook.test"

    # In Persian: right to left, the statement with Jalali days, the customer's page.
    page.get_by_role("button", name="فارسی").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("link", name="صورت‌وضعیت").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("صورت‌وضعیت")
    with translation.override("fa"):
        today = formatting.format_day(timezone.now())
        period_end = formatting.format_day(lic.period_end)
        sold = formatting.format_money(900, "USD")
    expect(page.get_by_test_id("statement-span")).to_contain_text(today)
    expect(page.get_by_test_id("total-sold")).to_have_text(sold)
    page.screenshot(path=str(artifacts / "agent-statement-fa.png"), full_page=True)
    page.get_by_role("link", name="مشتریان", exact=True).click()
    page.get_by_role("link", name="dave@example.test").click()
    expect(page.get_by_test_id("customer-license-status")).to_have_text(["فعال"])
    expect(page.get_by_text(period_end)).to_be_visible()
    page.screenshot(path=str(artifacts / "agent-customer-fa.png"), full_page=True)

    assert csp_refusals == []
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "agent-customer-en.png",
        "agent-customer-fa.png",
        "agent-dashboard-en.png",
        "agent-order-en.png",
        "agent-statement-fa.png",
        "agent-token-en.png",
        "agent-webhook-en.png",
    ]
