"""Tickets in a real browser (Debian's Chromium driven by Playwright): alice follows the
Tickets link, opens a ticket in the technical department, replies with a screenshot attached,
and reads the thread in English and then in Persian, right to left. Screenshots go to the
test's tmp folder, or to LICENSARY_TEST_ARTIFACTS when set."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from licensary.accounts.services import account_create
from licensary.support.models import Attachment, Ticket
from tests.portal.test_browser import (  # the same browser and screenshot folder
    CHROMIUM,
    PASSWORD,
    artifacts,
    chromium,
    refusals_of_the_policy,
)
from tests.portal.test_browser_customer import sign_in
from tests.portal.test_browser_staffconsole import png

__all__ = ["CHROMIUM", "artifacts", "chromium"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)


def test_alice_opens_a_ticket_replies_with_two_files_reads_it_in_persian_and_closes_it(
    live_server: Any, chromium: Browser, artifacts: Path, tmp_path: Path
) -> None:
    account_create(actor=None, kind="customer", email="alice@example.test", password=PASSWORD)
    alice = chromium.new_page(viewport={"width": 1280, "height": 900})
    csp_refusals = refusals_of_the_policy(alice)
    sign_in(alice, f"{live_server.url}/portal/", "alice@example.test", PASSWORD)
    alice.get_by_role("link", name="Tickets", exact=True).click()
    expect(alice.get_by_text("No tickets yet.")).to_be_visible()
    alice.get_by_label("Department").select_option("technical")
    alice.get_by_label("Subject").fill("The panel does not start")
    alice.get_by_label("Message").fill("Since this morning the panel answers 502.")
    alice.get_by_role("button", name="Open the ticket").click()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("open")
    ticket = Ticket.objects.get()

    shot, log = tmp_path / "error.png", tmp_path / "console.png"
    shot.write_bytes(png(320, 180))
    log.write_bytes(png(200, 100))
    alice.get_by_label("Your reply").fill("Here is what the browser shows.")
    alice.get_by_label("Attach files").set_input_files([str(shot), str(log)])
    alice.get_by_role("button", name="Send the reply").click()
    expect(alice.get_by_text("Your reply is sent.")).to_be_visible()
    attachments = Attachment.objects.filter(message__ticket=ticket).order_by("original_name")
    assert [a.original_name for a in attachments] == ["console.png", "error.png"]
    for attachment in attachments:
        expect(alice.get_by_test_id(f"attachment-{attachment.pk}")).to_have_text(
            attachment.original_name
        )
    alice.screenshot(path=str(artifacts / "ticket-en.png"), full_page=True)

    alice.get_by_role("button", name="فارسی").click()
    expect(alice.locator("html")).to_have_attribute("dir", "rtl")
    expect(alice.get_by_role("heading", name="پاسخ", exact=True)).to_be_visible()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("باز")
    alice.screenshot(path=str(artifacts / "ticket-fa.png"), full_page=True)
    alice.get_by_role("link", name="تیکت‌ها", exact=True).click()
    expect(alice.get_by_test_id(f"ticket-{ticket.pk}")).to_be_visible()
    alice.screenshot(path=str(artifacts / "tickets-fa.png"), full_page=True)

    alice.get_by_test_id(f"ticket-{ticket.pk}").get_by_role("link").first.click()
    alice.get_by_test_id("ticket-close").click()
    expect(alice.get_by_test_id("ticket-status")).to_have_text("بسته")
    expect(alice.get_by_test_id("ticket-close")).to_have_count(0)
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert csp_refusals == []
