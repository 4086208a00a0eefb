"""Tickets on the customer portal (rule 13): alice opens one in a department (about one of her
licenses, or none), reads its thread without staff's internal notes, replies with a file; the
spam limits' refusal says when to try again; a bad form or file is refused next to its field
and changes nothing. Every new customer page (tickets, claims, identity) of another account's
object is not_found for another customer and another agent, and refuses a form without CSRF."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, reverse

from licensary.accounts.models import IdentityDocument, User
from licensary.catalog.models import Product
from licensary.governance.claims import claim_open
from licensary.governance.models import Claim
from licensary.orders.models import Order
from licensary.portal import customer_urls
from licensary.support.models import Attachment, Message, ThrottleHit, Ticket
from licensary.support.services import ticket_message_add, ticket_open
from tests.api.conftest import erin, frank
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP
from tests.portal.conftest import Browser

__all__ = ["erin", "frank"]  # fixtures, used by name

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
NEW_PAGES = {
    "tickets",
    "ticket",
    "ticket-reply",
    "ticket-close",
    "ticket-attachment",
    "identity",
    "claims",
    "claim",
    "claim-challenge",
}


def png(content: bytes = PNG, name: str = "screen.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/png")


def open_ticket(browser: Browser, **fields: Any) -> Any:
    data = {"department": "technical", "subject": "Panel down", "body": "It stopped."}
    return browser.post("/portal/tickets/", {**data, **fields})


def state() -> tuple[Any, ...]:
    return (
        list(Ticket.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        list(Message.objects.order_by("pk").values_list("pk", "body")),
        Attachment.objects.count(),
        list(Claim.objects.order_by("pk").values_list("pk", "status", "challenge")),
        IdentityDocument.objects.count(),
    )


def test_alice_opens_a_ticket_about_her_license_and_sees_it_listed(
    alice: User, alice_browser: Browser, alice_license: Order
) -> None:
    answer = open_ticket(alice_browser, license=str(alice_license.license_id))
    ticket = Ticket.objects.get()
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/tickets/{ticket.pk}/")
    assert (ticket.account_id, ticket.department, ticket.license_id, ticket.status) == (
        alice.pk,
        "technical",
        alice_license.license_id,
        "open",
    )
    listed = alice_browser.get("/portal/tickets/").content.decode()
    assert f'data-testid="ticket-{ticket.pk}"' in listed and ">open<" in listed
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "It stopped." in page and "Panel Pro" in page


def test_the_thread_never_shows_staff_s_internal_notes(
    alice: User, alice_browser: Browser, staff: User
) -> None:
    ticket = ticket_open(
        account=alice, department="billing", subject="Invoice", body="Why?", actor=alice
    )
    ticket_message_add(ticket=ticket, body="Secret staff note", actor=staff, internal=True)
    ticket_message_add(ticket=ticket, body="Because of the renewal.", actor=staff)
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "Because of the renewal." in page
    assert "Secret staff note" not in page
    assert ">answered<" in page


def test_a_reply_with_a_file_is_kept_and_served_to_its_side_only(
    alice: User, alice_browser: Browser, bob_browser: Browser, staff: User
) -> None:
    ticket = ticket_open(
        account=alice, department="technical", subject="Error", body="See below", actor=alice
    )
    ticket_message_add(ticket=ticket, body="Send a screenshot.", actor=staff)
    answer = alice_browser.post(
        f"/portal/tickets/{ticket.pk}/reply/", {"body": "Here it is", "file": png()}
    )
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/tickets/{ticket.pk}/")
    attachment = Attachment.objects.get()
    ticket.refresh_from_db()
    assert ticket.status == "customer_reply"
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert f'data-testid="attachment-{attachment.pk}"' in page
    url = f"/portal/tickets/{ticket.pk}/attachments/{attachment.pk}/"
    download = alice_browser.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert bob_browser.get(url).status_code == 404


def test_a_reply_takes_up_to_three_files_and_a_fourth_is_refused_next_to_them(
    alice: User, alice_browser: Browser
) -> None:
    ticket = ticket_open(
        account=alice, department="technical", subject="Error", body="See below", actor=alice
    )
    before = state()
    four = [png(name=f"screen-{n}.png") for n in range(4)]
    answer = alice_browser.post(
        f"/portal/tickets/{ticket.pk}/reply/", {"body": "Four", "file": four}
    )
    assert answer.status_code == 422
    assert 'id="id_file_error"><li>At most 3 files on one message.</li>' in answer.content.decode()
    assert state() == before

    three = [png(name=f"screen-{n}.png") for n in range(3)]
    answer = alice_browser.post(
        f"/portal/tickets/{ticket.pk}/reply/", {"body": "Three", "file": three}
    )
    assert answer.status_code == 302
    message = Message.objects.get(body="Three")
    assert sorted(message.attachments.values_list("original_name", flat=True)) == [
        "screen-0.png",
        "screen-1.png",
        "screen-2.png",
    ]
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert all(f'data-testid="attachment-{a.pk}"' in page for a in message.attachments.all())
    assert '<input type="file" name="file" accept=".pdf,.png,.jpg,.jpeg,.webp" multiple' in page


def test_alice_closes_her_answered_ticket_and_a_reply_opens_it_again(
    alice: User, alice_browser: Browser, staff: User
) -> None:
    ticket = ticket_open(
        account=alice, department="billing", subject="Invoice", body="Which one?", actor=alice
    )
    ticket_message_add(ticket=ticket, body="The second.", actor=staff)
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert 'data-testid="ticket-close"' in page

    answer = alice_browser.post(f"/portal/tickets/{ticket.pk}/close/", {})
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/tickets/{ticket.pk}/")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at is not None) == ("closed", True)
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert 'data-testid="ticket-close"' not in page and ">closed<" in page

    before = state()
    again = alice_browser.post(f"/portal/tickets/{ticket.pk}/close/", {})
    assert again.status_code == 409
    assert 'data-code="invalid_transition"' in again.content.decode()
    assert state() == before

    alice_browser.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "One more thing"})
    ticket.refresh_from_db()
    assert ticket.status == "customer_reply"


def test_a_file_that_is_no_image_or_pdf_is_refused_next_to_it_and_nothing_is_sent(
    alice: User, alice_browser: Browser
) -> None:
    ticket = ticket_open(
        account=alice, department="technical", subject="Error", body="See below", actor=alice
    )
    before = state()
    answer = alice_browser.post(
        f"/portal/tickets/{ticket.pk}/reply/",
        {"body": "Here", "file": png(b"MZ\x90\x00 not an image", "tool.exe")},
    )
    assert answer.status_code == 415
    assert 'id="id_file_error"><li>Send a PDF, PNG, JPEG or WebP file.</li>' in (
        answer.content.decode()
    )
    assert state() == before


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"department": "lottery"}, "department"),
        ({"subject": ""}, "subject"),
        ({"body": "   "}, "body"),
        ({"license": "999999"}, "license"),
    ],
)
def test_a_bad_ticket_form_is_refused_next_to_its_field_and_opens_nothing(
    alice_browser: Browser, fields: dict[str, str], field: str
) -> None:
    answer = open_ticket(alice_browser, **fields)
    assert answer.status_code == 422
    assert f'id="id_{field}_error"' in answer.content.decode()
    assert Ticket.objects.count() == 0


def test_bob_cannot_open_a_ticket_about_alice_s_license(
    bob_browser: Browser, alice_license: Order
) -> None:
    answer = open_ticket(bob_browser, license=str(alice_license.license_id))
    assert answer.status_code == 422
    assert Ticket.objects.count() == 0


def test_a_fourth_open_ticket_is_refused_with_when_to_try_again(
    alice: User, alice_browser: Browser
) -> None:
    for n in range(3):
        assert open_ticket(alice_browser, subject=f"Question {n}").status_code == 302
    before = state()
    answer = open_ticket(alice_browser, subject="One more")
    page = answer.content.decode()
    assert answer.status_code == 429
    assert "at most 3 open tickets" in page and "try again after" in page
    assert state() == before  # only the throttle's evidence is kept
    assert ThrottleHit.objects.filter(account=alice, kind="open_tickets").count() == 1


def test_the_eleventh_message_in_an_hour_is_refused_with_when_to_try_again(
    alice: User, alice_browser: Browser, settings: Any
) -> None:
    settings.LICENSARY = {**settings.LICENSARY, "SUPPORT_MESSAGES_PER_HOUR": 2}
    ticket = ticket_open(
        account=alice, department="sales", subject="Prices", body="One", actor=alice
    )
    assert (
        alice_browser.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "Two"}).status_code
        == 302
    )
    before = state()
    answer = alice_browser.post(f"/portal/tickets/{ticket.pk}/reply/", {"body": "Three"})
    page = answer.content.decode()
    assert answer.status_code == 429
    assert "at most 2 messages an hour" in page and "try again after" in page
    assert state() == before


# The walk over the new customer pages ---------------------------------------------------


@pytest.fixture
def alices(alice: User, bob: User, product: Product, staff: User) -> dict[str, int]:
    """alice's ticket (with a file) and her claim on bob's license, by URL parameter."""
    ticket = ticket_open(
        account=alice, department="technical", subject="Walk", body="walk", actor=alice
    )
    message = ticket_message_add(ticket=ticket, body="file", actor=alice, files=[png()])
    delivered_order(bob, product, PUBLIC_IP, staff)
    claim = claim_open(product=product, ip=PUBLIC_IP, actor=alice)
    return {
        "ticket_id": ticket.pk,
        "attachment_id": message.attachments.get().pk,
        "claim_id": claim.pk,
    }


def new_patterns() -> list[URLPattern]:
    found = [
        p for p in customer_urls.urlpatterns if isinstance(p, URLPattern) and p.name in NEW_PAGES
    ]
    assert {p.name for p in found} == NEW_PAGES
    return found


def url_of(pattern: URLPattern, objects: dict[str, int]) -> str:
    names = list(pattern.pattern.converters)
    return reverse(f"portal:{pattern.name}", kwargs={name: objects[name] for name in names})


def test_each_new_page_answers_its_owner(alice_browser: Browser, alices: dict[str, int]) -> None:
    pages = [
        url_of(p, alices)
        for p in new_patterns()
        if p.name not in ("ticket-reply", "ticket-close", "claim-challenge")
    ]
    assert {path: alice_browser.get(path).status_code for path in pages} == {
        path: 200 for path in pages
    }


@pytest.mark.parametrize("who", ["charlie_like", "erin"])
def test_another_customer_or_agent_finds_none_of_alice_s_objects_and_changes_nothing(
    who: str, request: Any, alices: dict[str, int]
) -> None:
    browser = Browser(request.getfixturevalue(who))
    before = state()
    for pattern in new_patterns():
        if not pattern.pattern.converters:
            continue
        url = url_of(pattern, alices)
        for answer in (browser.get(url), browser.post(url, {"body": "walk", "file": png()})):
            posted_only = ("ticket-reply", "ticket-close", "claim-challenge")
            if pattern.name in posted_only and answer.status_code == 405:
                continue
            assert answer.status_code == 404, (url, answer.status_code)
            assert 'data-code="not_found"' in answer.content.decode(), url
    assert state() == before


def test_each_new_form_without_its_csrf_token_is_refused(
    alice_browser: Browser, alices: dict[str, int], product: Product
) -> None:
    before = state()
    forms = {
        "/portal/tickets/": {"department": "sales", "subject": "x", "body": "y"},
        f"/portal/tickets/{alices['ticket_id']}/reply/": {"body": "y"},
        f"/portal/tickets/{alices['ticket_id']}/close/": {},
        "/portal/account/identity/": {"document": png()},
        "/portal/claims/": {"product": "panel", "ip": "151.101.1.70"},
        f"/portal/claims/{alices['claim_id']}/challenge/": {},
    }
    for path, data in forms.items():
        answer = alice_browser.client.post(path, data)
        assert answer.status_code == 403, path
        assert 'data-code="csrf_failed"' in answer.content.decode(), path
    assert state() == before


def test_the_nav_links_to_tickets_and_claims(alice_browser: Browser) -> None:
    page = alice_browser.get("/portal/").content.decode()
    assert 'href="/portal/tickets/"' in page and 'href="/portal/claims/"' in page


def test_the_ticket_pages_speak_persian_with_jalali_dates(
    alice: User, alice_browser: Browser
) -> None:
    alice_browser.post("/portal/language/", {"language": "fa", "next": "/portal/tickets/"})
    ticket = ticket_open(
        account=alice, department="billing", subject="صورت‌حساب", body="چرا؟", actor=alice
    )
    listed = alice_browser.get("/portal/tickets/").content.decode()
    assert '<html lang="fa" dir="rtl">' in listed
    assert "تیکت‌های شما" in listed and "باز کردن تیکت" in listed
    page = alice_browser.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "فرستادن پاسخ" in page and "۱۴۰" in page  # a Jalali year, in Persian digits
