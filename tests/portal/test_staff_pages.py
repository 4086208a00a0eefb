"""The staff console's pages, through Django's test client: each answers staff, refuses every
other account (the permission page, whatever id it types) and the anonymous (sign in), needs
its CSRF token, and each decision calls its service once, as the API's route does."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import token_create
from licensary.billing.models import Invoice, Payment, Receipt, Refund
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.catalog.models import Product
from licensary.governance.claims import claim_open, claim_prove
from licensary.governance.models import Claim
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.models import Order
from tests.api.support import delivered_order, held_order, unpaid_order
from tests.helpers import OTHER_IP, PUBLIC_IP
from tests.portal.conftest import Browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n" + b"0" * 32
HELD_IP = "93.184.216.61"
UNPAID_IP = "93.184.216.60"
REFUND_IP = "93.184.216.62"


@pytest.fixture
def staff_browser(staff: User) -> Browser:
    return Browser(staff)


@pytest.fixture
def held(alice: User, product: Product, staff: User) -> Order:
    return held_order(alice, product, HELD_IP, staff)


@pytest.fixture
def receipt(alice: User, product: Product) -> Receipt:
    order = unpaid_order(alice, product, UNPAID_IP)
    return receipt_upload(
        invoice=order.invoice,
        reference="TX-STAFF-1",
        file=SimpleUploadedFile("r.png", PNG + b"receipt"),
        actor=alice,
    )


@pytest.fixture
def pending_identity(bob: User) -> User:
    identity_submit(account=bob, file=SimpleUploadedFile("id.pdf", PDF + b"id"), actor=bob)
    bob.refresh_from_db()
    return bob


@pytest.fixture
def refund(alice: User, product: Product, staff: User) -> Refund:
    """alice's refund of a license whose problem staff marked unresolvable: the payment less
    the setup fee is eligible. Ask for it before any held order (its delivery runs the jobs)."""
    order = delivered_order(alice, product, REFUND_IP, staff)
    lic = License.objects.get(pk=order.license_id)
    license_mark_unresolvable(license=lic, actor=staff, note="cannot be fixed")
    return refund_request(invoice=order.invoice, reason="it never worked", actor=alice)


@pytest.fixture
def claim(alice: User, bob: User, product: Product, staff: User) -> Iterator[Claim]:
    """bob's proved claim on alice's blocked license: no owner's window, it awaits review.
    The test runs on the day after the license's period ended (the clock keeps ticking): ask
    for it before the browsers, whose sessions would have expired by then."""
    lic = License.objects.get(pk=delivered_order(alice, product, OTHER_IP, staff).license_id)
    with time_machine.travel(lic.period_end + timedelta(days=1)):
        opened = claim_open(product=product, ip=OTHER_IP, actor=bob)
        claim_prove(claim=opened, challenge=opened.challenge, caller_ip=OTHER_IP)
        opened.refresh_from_db()
        yield opened


@pytest.fixture
def world(refund: Refund, held: Order, receipt: Receipt, pending_identity: User) -> dict[str, Any]:
    return {"held": held, "receipt": receipt, "identity": pending_identity, "refund": refund}


def staff_pages(w: dict[str, Any]) -> list[str]:
    return [
        "/portal/staff/",
        "/portal/staff/review/",
        "/portal/staff/receipts/",
        "/portal/staff/identity/",
        "/portal/staff/claims/",
        "/portal/staff/refunds/",
        "/portal/staff/bans/",
        f"/portal/staff/accounts/{w['identity'].pk}/ban/",
    ]


def staff_actions(w: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    order, receipt, account = w["held"].pk, w["receipt"].pk, w["identity"].pk
    refund = w["refund"].pk
    return [
        (f"/portal/staff/orders/{order}/retry/", {}),
        (f"/portal/staff/orders/{order}/approve/", {"note": "ok"}),
        (f"/portal/staff/orders/{order}/reject/", {"note": "no", "destination": "credit"}),
        (f"/portal/staff/receipts/{receipt}/confirm/", {}),
        (f"/portal/staff/receipts/{receipt}/reject/", {"reason": "blurred"}),
        (f"/portal/staff/identity/{account}/verify/", {}),
        (f"/portal/staff/identity/{account}/reject/", {"reason": "expired"}),
        (f"/portal/staff/refunds/{refund}/approve/", {"destination": "credit"}),
        (f"/portal/staff/refunds/{refund}/reject/", {"note": "no"}),
        (f"/portal/staff/accounts/{account}/ban/", {"reason": "other", "note": "x"}),
        (f"/portal/staff/accounts/{account}/ban/confirm/", {"reason": "other", "note": "x"}),
    ]


def state(w: dict[str, Any]) -> tuple[str, ...]:
    objects = (
        Order.objects.get(pk=w["held"].pk).status,
        Receipt.objects.get(pk=w["receipt"].pk).status,
        User.objects.get(pk=w["identity"].pk).identity,
        User.objects.get(pk=w["identity"].pk).status,
        Refund.objects.get(pk=w["refund"].pk).status,
    )
    return objects


def test_every_staff_page_answers_staff(staff_browser: Browser, world: dict[str, Any]) -> None:
    codes = {path: staff_browser.get(path).status_code for path in staff_pages(world)}
    assert codes == {path: 200 for path in staff_pages(world)}


def test_every_staff_page_is_empty_but_says_what_comes_there(
    staff: User, staff_browser: Browser
) -> None:
    pages = {
        path: staff_browser.get(path).content.decode()
        for path in (
            "/portal/staff/review/",
            "/portal/staff/receipts/",
            "/portal/staff/identity/",
            "/portal/staff/claims/",
            "/portal/staff/refunds/",
        )
    }
    assert ["empty card" in page for page in pages.values()] == [True] * 5


@pytest.mark.parametrize("who", ["alice", "carol", "dave"])
def test_a_customer_or_an_agent_meets_the_permission_page_and_changes_nothing(
    who: str, request: Any, world: dict[str, Any]
) -> None:
    browser = Browser(request.getfixturevalue(who))
    before = state(world)
    pages = {path: browser.get(path).status_code for path in staff_pages(world)}
    actions = {path: browser.post(path, data).status_code for path, data in staff_actions(world)}
    assert pages == {path: 403 for path in staff_pages(world)}
    assert actions == {path: 403 for path, _ in staff_actions(world)}
    assert 'data-code="permission_denied"' in browser.get("/portal/staff/").content.decode()
    assert state(world) == before


def test_the_anonymous_are_sent_to_sign_in(world: dict[str, Any]) -> None:
    anonymous = Client()
    answers = [anonymous.get(path) for path in staff_pages(world)] + [
        anonymous.post(path, data) for path, data in staff_actions(world)
    ]
    assert {(a.status_code, a["Location"].split("?")[0]) for a in answers} == {
        (302, "/portal/sign-in/")
    }


def test_a_decision_without_its_csrf_token_is_refused(
    staff_browser: Browser, world: dict[str, Any]
) -> None:
    before = state(world)
    codes = {
        path: staff_browser.client.post(path, data).status_code
        for path, data in staff_actions(world)
    }
    assert codes == {path: 403 for path, _ in staff_actions(world)}
    assert state(world) == before


def test_an_unknown_object_is_not_found(staff_browser: Browser, world: dict[str, Any]) -> None:
    paths = [
        "/portal/staff/orders/999999/approve/",
        "/portal/staff/receipts/999999/confirm/",
        "/portal/staff/identity/999999/verify/",
        "/portal/staff/claims/999999/approve/",
        "/portal/staff/refunds/999999/approve/",
        "/portal/staff/accounts/999999/ban/confirm/",
    ]
    codes = {p: staff_browser.post(p, {"reason": "other", "note": "x"}).status_code for p in paths}
    assert codes == {p: 404 for p in paths}
    assert staff_browser.get("/portal/staff/accounts/999999/ban/").status_code == 404


def test_the_dashboard_counts_what_waits(
    claim: Claim, world: dict[str, Any], staff_browser: Browser
) -> None:
    page = staff_browser.get("/portal/staff/").content.decode()
    counts = {
        name: f'data-testid="count-{name}">{n}<' in page
        for name, n in [
            ("held", 1),
            ("receipts", 1),
            ("identity", 1),
            ("claims", 1),
            ("refunds", 1),
            ("dead-jobs", 0),
        ]
    }
    assert counts == dict.fromkeys(counts, True)
    assert 'data-testid="count-overdue"' not in page


def test_an_order_held_longer_than_48_hours_is_overdue_in_the_queue(
    staff_browser: Browser, held: Order
) -> None:
    with time_machine.travel(held.held_at + timedelta(hours=47, minutes=59)):
        within = staff_browser.get("/portal/staff/review/").content.decode()
    with time_machine.travel(held.held_at + timedelta(hours=48)):
        overdue = staff_browser.get("/portal/staff/review/").content.decode()
        dashboard = staff_browser.get("/portal/staff/").content.decode()
    assert '<span class="badge within" data-testid="sla">within target</span>' in within
    assert "held 47 h of 48 h" in within
    assert '<span class="badge overdue" data-testid="sla">overdue</span>' in overdue
    assert 'data-testid="count-overdue">1 overdue<' in dashboard


def test_the_review_queue_lists_the_oldest_hold_first(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    first = held_order(alice, product, HELD_IP, staff)
    second = held_order(alice, product, REFUND_IP, staff)
    page = staff_browser.get("/portal/staff/review/").content.decode()
    assert page.index(f'data-testid="held-{first.pk}"') < page.index(
        f'data-testid="held-{second.pk}"'
    )


def test_retry_delivers_a_held_order_once(staff_browser: Browser, held: Order) -> None:
    first = staff_browser.post(f"/portal/staff/orders/{held.pk}/retry/")
    second = staff_browser.post(f"/portal/staff/orders/{held.pk}/retry/")
    held.refresh_from_db()
    assert (first.status_code, first["Location"]) == (302, "/portal/staff/review/")
    assert second.status_code == 409
    assert held.status == Order.Status.COMPLETED
    assert License.objects.filter(ip=HELD_IP).count() == 1


def test_approve_delivers_a_held_order_once_with_its_note(
    staff_browser: Browser, held: Order
) -> None:
    first = staff_browser.post(f"/portal/staff/orders/{held.pk}/approve/", {"note": "checked"})
    second = staff_browser.post(f"/portal/staff/orders/{held.pk}/approve/", {"note": "again"})
    held.refresh_from_db()
    assert (first.status_code, second.status_code) == (302, 409)
    assert (held.status, held.decision_note) == (Order.Status.COMPLETED, "checked")
    assert License.objects.filter(ip=HELD_IP).count() == 1


def test_reject_refunds_a_held_order_in_full_to_credit_once(
    staff_browser: Browser, held: Order, alice: User
) -> None:
    data = {"note": "IP belongs to someone else", "destination": "credit"}
    first = staff_browser.post(f"/portal/staff/orders/{held.pk}/reject/", data)
    second = staff_browser.post(f"/portal/staff/orders/{held.pk}/reject/", data)
    held.refresh_from_db()
    assert (first.status_code, second.status_code) == (302, 409)
    assert held.status == Order.Status.REJECTED
    assert account_credit(alice).amount == 1500


def test_reject_without_a_note_is_shown_next_to_the_field(
    staff_browser: Browser, held: Order
) -> None:
    answer = staff_browser.post(
        f"/portal/staff/orders/{held.pk}/reject/", {"note": "", "destination": "credit"}
    )
    held.refresh_from_db()
    assert answer.status_code == 422
    assert f'id="reject-{held.pk}-note_error"' in answer.content.decode()
    assert held.status == Order.Status.ON_HOLD


def test_a_receipt_is_previewed_from_the_owner_and_staff_only_download(
    staff_browser: Browser, receipt: Receipt
) -> None:
    page = staff_browser.get("/portal/staff/receipts/").content.decode()
    file = staff_browser.get(f"/api/v1/receipts/{receipt.pk}/file")
    assert f'<img src="/api/v1/receipts/{receipt.pk}/file"' in page
    assert (file.status_code, file["Content-Type"]) == (200, "image/png")


def test_confirming_a_receipt_pays_its_invoice_once(
    staff_browser: Browser, receipt: Receipt
) -> None:
    first = staff_browser.post(f"/portal/staff/receipts/{receipt.pk}/confirm/")
    second = staff_browser.post(f"/portal/staff/receipts/{receipt.pk}/confirm/")
    receipt.refresh_from_db()
    assert (first.status_code, second.status_code) == (302, 409)
    assert (receipt.status, receipt.invoice.status) == ("confirmed", Invoice.Status.PAID)
    assert Payment.objects.filter(invoice=receipt.invoice).count() == 1


def test_rejecting_a_receipt_keeps_its_reason(staff_browser: Browser, receipt: Receipt) -> None:
    empty = staff_browser.post(f"/portal/staff/receipts/{receipt.pk}/reject/", {"reason": " "})
    done = staff_browser.post(f"/portal/staff/receipts/{receipt.pk}/reject/", {"reason": "blurred"})
    receipt.refresh_from_db()
    assert (empty.status_code, done.status_code) == (422, 302)
    assert (receipt.status, receipt.reason, receipt.invoice.status) == (
        "rejected",
        "blurred",
        Invoice.Status.UNPAID,
    )


def test_an_identity_pdf_is_linked_and_verified_once(
    staff_browser: Browser, pending_identity: User
) -> None:
    bob = pending_identity
    page = staff_browser.get("/portal/staff/identity/").content.decode()
    first = staff_browser.post(f"/portal/staff/identity/{bob.pk}/verify/")
    second = staff_browser.post(f"/portal/staff/identity/{bob.pk}/verify/")
    bob.refresh_from_db()
    assert f'<a href="/api/v1/accounts/{bob.pk}/identity/document">' in page
    assert (first.status_code, second.status_code) == (302, 409)
    assert bob.identity == User.Identity.VERIFIED


def test_an_identity_is_rejected_with_a_reason(
    staff_browser: Browser, pending_identity: User
) -> None:
    bob = pending_identity
    answer = staff_browser.post(f"/portal/staff/identity/{bob.pk}/reject/", {"reason": "expired"})
    bob.refresh_from_db()
    assert answer.status_code == 302
    assert bob.identity == User.Identity.REJECTED
    assert bob.identity_documents.get().reason == "expired"


def test_a_claim_awaiting_review_is_approved_once(
    claim: Claim, bob: User, staff_browser: Browser
) -> None:
    page = staff_browser.get("/portal/staff/claims/").content.decode()
    first = staff_browser.post(f"/portal/staff/claims/{claim.pk}/approve/")
    second = staff_browser.post(f"/portal/staff/claims/{claim.pk}/approve/")
    claim.refresh_from_db()
    assert '<span class="badge awaiting_review">awaiting review</span>' in page
    assert (first.status_code, second.status_code) == (302, 409)
    assert claim.status == Claim.Status.APPROVED
    assert Order.objects.filter(account=bob, kind=Order.Kind.CLAIM).count() == 1


def test_a_claim_is_rejected_with_a_reason(claim: Claim, staff_browser: Browser) -> None:
    answer = staff_browser.post(f"/portal/staff/claims/{claim.pk}/reject/", {"reason": "no"})
    claim.refresh_from_db()
    assert answer.status_code == 302
    assert (claim.status, claim.reason) == (Claim.Status.REJECTED, "no")


def test_a_refund_shows_the_policy_s_answer_and_is_approved_to_credit_once(
    staff_browser: Browser, refund: Refund, alice: User
) -> None:
    page = staff_browser.get("/portal/staff/refunds/").content.decode()
    data = {"destination": "credit", "note": ""}
    first = staff_browser.post(f"/portal/staff/refunds/{refund.pk}/approve/", data)
    second = staff_browser.post(f"/portal/staff/refunds/{refund.pk}/approve/", data)
    refund.refresh_from_db()
    assert '<strong data-testid="eligible">$10.00</strong>' in page  # less the setup fee
    assert f"<code>{refund.rule}</code>" in page
    assert escape(refund.explanation) in page
    assert (first.status_code, second.status_code) == (302, 409)
    assert refund.status == Refund.Status.PAID
    assert account_credit(alice).amount == 1000


def test_a_refund_is_rejected_with_a_note(staff_browser: Browser, refund: Refund) -> None:
    answer = staff_browser.post(f"/portal/staff/refunds/{refund.pk}/reject/", {"note": "no"})
    refund.refresh_from_db()
    assert answer.status_code == 302
    assert (refund.status, refund.decision_note) == (Refund.Status.REJECTED, "no")


def test_the_ban_page_offers_the_five_reasons_and_cascade_only_for_an_agent(
    staff_browser: Browser, alice: User, carol: User
) -> None:
    customer = staff_browser.get(f"/portal/staff/accounts/{alice.pk}/ban/").content.decode()
    agent = staff_browser.get(f"/portal/staff/accounts/{carol.pk}/ban/").content.decode()
    reasons = ["tampering", "sharing", "fake_identity", "support_spam", "other"]
    assert [f'value="{r}"' in customer for r in reasons] == [True] * 5
    assert ('name="cascade"' in customer, 'name="cascade"' in agent) == (False, True)


def test_the_ban_confirmation_says_what_will_happen_and_changes_nothing(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    delivered_order(alice, product, PUBLIC_IP, staff)  # before the held one: it runs the jobs
    held_order(alice, product, HELD_IP, staff)
    unpaid_order(alice, product, UNPAID_IP)
    token_create(user=alice)
    Browser(alice)  # one signed-in session
    answer = staff_browser.post(
        f"/portal/staff/accounts/{alice.pk}/ban/", {"reason": "sharing", "note": "resold"}
    )
    page = answer.content.decode()
    alice.refresh_from_db()
    assert answer.status_code == 200
    assert [
        "1 license is canceled, and cannot be renewed." in page,
        "1 unpaid invoice is voided." in page,
        "1 paid order not yet delivered is rejected, without a refund." in page,
        "1 API token is revoked." in page,
        "1 signed-in session ends." in page,
    ] == [True] * 5
    assert alice.status == User.Status.ACTIVE


def test_confirming_the_ban_bans_once_and_cancels_what_it_said(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    lic = delivered_order(alice, product, PUBLIC_IP, staff).license_id
    token_create(user=alice)
    path = f"/portal/staff/accounts/{alice.pk}/ban/confirm/"
    first = staff_browser.post(path, {"reason": "sharing", "note": "resold"})
    second = staff_browser.post(path, {"reason": "sharing", "note": "resold"})
    alice.refresh_from_db()
    assert (first.status_code, first["Location"]) == (302, "/portal/staff/bans/")
    assert second.status_code == 409
    assert (alice.status, alice.ban_reason) == (User.Status.BANNED, "sharing")
    assert License.objects.get(pk=lic).status == License.Status.CANCELED
    assert ApiToken.objects.filter(user=alice, revoked_at__isnull=True).count() == 0


def test_a_ban_without_a_note_is_refused_next_to_the_field(
    staff_browser: Browser, alice: User
) -> None:
    answer = staff_browser.post(
        f"/portal/staff/accounts/{alice.pk}/ban/confirm/", {"reason": "sharing", "note": ""}
    )
    alice.refresh_from_db()
    assert answer.status_code == 422
    assert 'id="id_note_error"' in answer.content.decode()
    assert alice.status == User.Status.ACTIVE


def test_the_bans_page_finds_an_account_by_email(staff_browser: Browser, alice: User) -> None:
    found = staff_browser.get("/portal/staff/bans/?email=ALICE%40example.test")
    missing = staff_browser.get("/portal/staff/bans/?email=nobody%40example.test")
    assert (found.status_code, found["Location"]) == (
        302,
        f"/portal/staff/accounts/{alice.pk}/ban/",
    )
    assert missing.status_code == 422
    assert "No account has this email." in missing.content.decode()


def test_the_nav_shows_the_console_to_staff_only(
    staff_browser: Browser, alice_browser: Browser
) -> None:
    link = 'href="/portal/staff/"'
    assert (
        link in staff_browser.get("/portal/").content.decode(),
        link in alice_browser.get("/portal/").content.decode(),
    ) == (True, False)


def test_the_ban_of_an_agent_with_its_customers_does_what_its_confirmation_said(
    staff_browser: Browser, carol: User, dave: User, product: Product, staff: User
) -> None:
    lic = delivered_order(dave, product, PUBLIC_IP, staff).license_id
    unpaid = unpaid_order(dave, product, UNPAID_IP)
    token_create(user=carol)
    token_create(user=dave)
    data = {"reason": "sharing", "note": "resold", "cascade": "on"}
    preview = staff_browser.post(f"/portal/staff/accounts/{carol.pk}/ban/", data)
    page = preview.content.decode()
    said = [
        "2 accounts are banned (the agent and its customers)." in page,
        "1 license is canceled, and cannot be renewed." in page,
        "1 unpaid invoice is voided." in page,
        "2 API tokens are revoked." in page,
    ]

    done = staff_browser.post(f"/portal/staff/accounts/{carol.pk}/ban/confirm/", data)

    assert said == [True] * 4
    assert done.status_code == 302
    assert set(
        User.objects.filter(pk__in=[carol.pk, dave.pk]).values_list("status", flat=True)
    ) == {User.Status.BANNED}
    assert License.objects.get(pk=lic).status == License.Status.CANCELED
    assert Invoice.objects.get(pk=unpaid.invoice_id).status == Invoice.Status.VOID
    assert ApiToken.objects.filter(user__in=[carol, dave], revoked_at__isnull=True).count() == 0


def test_the_console_in_persian_is_right_to_left_with_persian_digits(
    staff_browser: Browser, world: dict[str, Any]
) -> None:
    staff_browser.post("/portal/language/", {"language": "fa", "next": "/portal/staff/"})
    dashboard = staff_browser.get("/portal/staff/").content.decode()
    queue = staff_browser.get("/portal/staff/review/").content.decode()
    assert '<html lang="fa" dir="rtl">' in dashboard
    assert "<h1>میز کارکنان</h1>" in dashboard
    assert 'data-testid="count-held">۱<' in dashboard
    assert '<span class="badge within" data-testid="sla">در مهلت</span>' in queue
