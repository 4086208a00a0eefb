"""The customer portal's pages, through Django's test client: each answers its owner, hides
other accounts' objects (404, as the API's not_found), sends the anonymous to sign in, refuses
a form without its CSRF token, and changes state only through the services."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

import licensary
from licensary.accounts.models import TermsAcceptance, User
from licensary.accounts.services import terms_publish
from licensary.billing.models import Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.orders.services import order_create
from licensary.portal.errors import EXPLAINED, error_page
from tests.helpers import OTHER_IP, PUBLIC_IP, give_credit, run_jobs
from tests.portal.conftest import Browser

THIRD_IP = "93.184.216.80"


def owner_pages(lic: Order, unpaid: Order) -> list[str]:
    return [
        "/portal/",
        "/portal/licenses/",
        f"/portal/licenses/{lic.license_id}/",
        "/portal/licenses/?status=active",
        f"/portal/licenses/?product=panel&ip={PUBLIC_IP}",
        "/portal/orders/",
        "/portal/orders/new/",
        "/portal/invoices/",
        f"/portal/invoices/{lic.invoice_id}/",
        f"/portal/invoices/{unpaid.invoice_id}/",
        "/portal/terms/",
    ]


def test_every_page_answers_its_owner(
    alice_browser: Browser, alice_license: Order, alice_unpaid: Order
) -> None:
    codes = {
        path: alice_browser.get(path).status_code
        for path in owner_pages(alice_license, alice_unpaid)
    }
    assert codes == {path: 200 for path in owner_pages(alice_license, alice_unpaid)}


def test_another_account_s_license_and_invoice_are_not_found(
    bob_browser: Browser, alice_license: Order, alice_unpaid: Order
) -> None:
    lic, invoice = alice_license.license_id, alice_unpaid.invoice_id
    answers = {
        "license": bob_browser.get(f"/portal/licenses/{lic}/").status_code,
        "invoice": bob_browser.get(f"/portal/invoices/{invoice}/").status_code,
        "renew": bob_browser.post(f"/portal/licenses/{lic}/renew/").status_code,
        "change-ip": bob_browser.post(
            f"/portal/licenses/{lic}/change-ip/", {"ip": THIRD_IP}
        ).status_code,
        "pay": bob_browser.post(f"/portal/invoices/{invoice}/pay/").status_code,
    }
    assert answers == {"license": 404, "invoice": 404, "renew": 404, "change-ip": 404, "pay": 404}
    alice_unpaid.invoice.refresh_from_db()
    assert alice_unpaid.invoice.status == Invoice.Status.UNPAID
    assert License.objects.get(pk=lic).ip == PUBLIC_IP


def test_another_account_s_objects_are_not_listed(
    bob_browser: Browser, alice_license: Order, alice_unpaid: Order
) -> None:
    pages = [
        bob_browser.get(p).content.decode()
        for p in ("/portal/licenses/", "/portal/invoices/", "/portal/orders/")
    ]
    assert [f"/portal/licenses/{alice_license.license_id}/" in page for page in pages] == [
        False,
        False,
        False,
    ]
    assert [f"/portal/invoices/{alice_unpaid.invoice_id}/" in page for page in pages] == [
        False,
        False,
        False,
    ]


def test_the_not_found_page_explains_itself(bob_browser: Browser, alice_license: Order) -> None:
    answer = bob_browser.get(f"/portal/licenses/{alice_license.license_id}/")
    page = answer.content.decode()
    assert 'data-code="not_found"' in page
    assert "There is nothing here, or it belongs to another account." in page


def test_the_anonymous_are_sent_to_sign_in(alice_license: Order, alice_unpaid: Order) -> None:
    anonymous = Client()
    for path in owner_pages(alice_license, alice_unpaid):
        if path == "/portal/terms/":
            continue
        answer = anonymous.get(path)
        assert (answer.status_code, answer["Location"].split("?")[0]) == (
            302,
            "/portal/sign-in/",
        ), path
    pay = anonymous.post(f"/portal/invoices/{alice_unpaid.invoice_id}/pay/")
    assert (pay.status_code, pay["Location"].split("?")[0]) == (302, "/portal/sign-in/")


def test_a_post_without_its_csrf_token_is_refused(
    alice: User, alice_browser: Browser, alice_unpaid: Order, staff: User
) -> None:
    give_credit(alice, 10_000, staff)
    answer = alice_browser.client.post(f"/portal/invoices/{alice_unpaid.invoice_id}/pay/")
    assert answer.status_code == 403
    assert 'data-code="csrf_failed"' in answer.content.decode()
    alice_unpaid.invoice.refresh_from_db()
    assert alice_unpaid.invoice.status == Invoice.Status.UNPAID
    assert account_credit(alice).amount == 10_000


def test_paying_with_credit_through_the_page_moves_the_money_once(
    alice: User, alice_browser: Browser, alice_unpaid: Order, staff: User
) -> None:
    give_credit(alice, 10_000, staff)
    path = f"/portal/invoices/{alice_unpaid.invoice_id}/pay/"

    first = alice_browser.post(path, HTTP_HX_REQUEST="true")
    second = alice_browser.post(path, HTTP_HX_REQUEST="true")

    assert first.status_code == 200
    assert 'data-testid="invoice-status">paid<' in first.content.decode()
    assert second.status_code == 409
    assert 'data-code="invalid_transition"' in second.content.decode()
    assert account_credit(alice).amount == 10_000 - 1500
    assert Payment.objects.filter(invoice_id=alice_unpaid.invoice_id).count() == 1
    alice_unpaid.refresh_from_db()
    assert alice_unpaid.status == Order.Status.PROCESSING


def test_paying_without_htmx_returns_to_the_invoice_page(
    alice: User, alice_browser: Browser, alice_unpaid: Order, staff: User
) -> None:
    give_credit(alice, 1500, staff)
    answer = alice_browser.post(f"/portal/invoices/{alice_unpaid.invoice_id}/pay/")
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"/portal/invoices/{alice_unpaid.invoice_id}/",
    )
    assert account_credit(alice).amount == 0


def test_paying_without_enough_credit_says_so_and_changes_nothing(
    alice: User, alice_browser: Browser, alice_unpaid: Order, staff: User
) -> None:
    give_credit(alice, 100, staff)
    answer = alice_browser.post(
        f"/portal/invoices/{alice_unpaid.invoice_id}/pay/", HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 402
    assert "Your credit does not cover this invoice." in answer.content.decode()
    assert account_credit(alice).amount == 100


def test_an_order_placed_on_the_page_issues_its_invoice(
    alice: User, alice_browser: Browser, product: Product
) -> None:
    answer = alice_browser.post("/portal/orders/new/", {"product": "panel", "ip": THIRD_IP})
    order = Order.objects.get(account=alice)
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"/portal/invoices/{order.invoice_id}/",
    )
    assert (order.ip, order.status, order.invoice.total) == (
        THIRD_IP,
        Order.Status.AWAITING_PAYMENT,
        1500,
    )


def test_a_bad_ip_is_shown_next_to_its_field(alice_browser: Browser, product: Product) -> None:
    answer = alice_browser.post("/portal/orders/new/", {"product": "panel", "ip": "10.0.0.1"})
    page = answer.content.decode()
    assert answer.status_code == 422
    assert re.search(r'id="id_ip_error"', page)
    assert Order.objects.count() == 0


def test_an_ip_already_held_is_shown_next_to_its_field(
    alice_browser: Browser, alice_license: Order
) -> None:
    answer = alice_browser.post("/portal/orders/new/", {"product": "panel", "ip": PUBLIC_IP})
    assert answer.status_code == 409
    assert (
        '<ul class="errors" id="id_ip_error"><li>This product already has a license on that IP '
        "address.</li></ul>"
    ) in answer.content.decode()
    assert Order.objects.count() == 1


def test_renewing_on_the_page_leads_to_the_renewal_invoice(
    alice_browser: Browser, alice_license: Order
) -> None:
    answer = alice_browser.post(f"/portal/licenses/{alice_license.license_id}/renew/")
    renewal = Invoice.objects.get(purpose=Invoice.Purpose.RENEWAL)
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/invoices/{renewal.pk}/")
    assert (renewal.status, renewal.total) == (Invoice.Status.UNPAID, 1000)


def test_changing_the_ip_on_the_page_moves_the_license(
    alice_browser: Browser, alice_license: Order
) -> None:
    lic = alice_license.license_id
    answer = alice_browser.post(f"/portal/licenses/{lic}/change-ip/", {"ip": THIRD_IP})
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/licenses/{lic}/")
    assert License.objects.get(pk=lic).ip == THIRD_IP


def test_a_bad_new_ip_is_shown_next_to_its_field(
    alice_browser: Browser, alice_license: Order
) -> None:
    lic = alice_license.license_id
    answer = alice_browser.post(f"/portal/licenses/{lic}/change-ip/", {"ip": "not an ip"})
    assert answer.status_code == 422
    assert 'id="id_ip_error"' in answer.content.decode()
    assert License.objects.get(pk=lic).ip == PUBLIC_IP


def test_the_license_filters_find_by_status_product_and_ip(
    alice_browser: Browser, alice_license: Order
) -> None:
    link = f'href="/portal/licenses/{alice_license.license_id}/"'
    found = {
        query: link in alice_browser.get(f"/portal/licenses/?{query}").content.decode()
        for query in (
            "status=active",
            "status=blocked",
            f"ip={PUBLIC_IP}",
            f"ip={OTHER_IP}",
            "product=panel",
        )
    }
    assert found == {
        "status=active": True,
        "status=blocked": False,
        f"ip={PUBLIC_IP}": True,
        f"ip={OTHER_IP}": False,
        "product=panel": True,
    }
    assert alice_browser.get("/portal/licenses/?ip=nonsense").status_code == 422


def test_the_dashboard_counts_licenses_and_shows_credit(
    alice: User, alice_browser: Browser, alice_license: Order, staff: User
) -> None:
    give_credit(alice, 2550, staff)
    page = alice_browser.get("/portal/").content.decode()
    assert 'data-testid="credit">$25.50<' in page
    assert re.search(r'badge active">active</span> <span class="count">1<', page)
    assert "30 days" in page


def test_a_new_version_of_the_terms_is_prompted_and_accepting_continues(
    alice: User, alice_browser: Browser, staff: User
) -> None:
    terms = terms_publish(text="Be nice.", actor=staff)

    prompted = alice_browser.get("/portal/invoices/")
    assert (prompted.status_code, prompted["Location"]) == (
        302,
        "/portal/terms/?next=%2Fportal%2Finvoices%2F",
    )
    page = alice_browser.get("/portal/terms/").content.decode()
    assert "Version 1, published" in page

    accepted = alice_browser.post(
        "/portal/terms/", {"version": terms.version, "next": "/portal/invoices/"}
    )
    assert (accepted.status_code, accepted["Location"]) == (302, "/portal/invoices/")
    assert TermsAcceptance.objects.filter(user=alice, terms=terms).count() == 1
    assert alice_browser.get("/portal/invoices/").status_code == 200


def test_signing_in_with_email_and_password_opens_the_dashboard(db: Any) -> None:
    User.objects.create_user(email="erin@example.test", password="a long enough password")
    browser = Client()
    answer = browser.post(
        "/portal/sign-in/",
        {"username": "erin@example.test", "password": "a long enough password", "next": "/portal/"},
        REMOTE_ADDR="192.0.2.10",
    )
    assert (answer.status_code, answer["Location"]) == (302, "/portal/")
    assert browser.get("/portal/").status_code == 200


def test_a_wrong_password_is_said_on_the_form_and_five_lock_the_account(db: Any) -> None:
    User.objects.create_user(email="erin@example.test", password="a long enough password")
    codes = [
        Client(REMOTE_ADDR=f"192.0.2.{n}").post(
            "/portal/sign-in/", {"username": "erin@example.test", "password": "wrong"}
        )
        for n in range(5)
    ]
    assert "That email and password do not match an account." in codes[0].content.decode()
    assert [answer.status_code for answer in codes] == [200, 200, 200, 200, 429]
    locked = Client(REMOTE_ADDR="192.0.2.99").post(
        "/portal/sign-in/", {"username": "erin@example.test", "password": "a long enough password"}
    )
    assert locked.status_code == 429


def test_signing_out_ends_the_session(alice_browser: Browser) -> None:
    answer = alice_browser.post("/portal/sign-out/")
    assert (answer.status_code, answer["Location"]) == (302, "/portal/sign-in/")
    assert alice_browser.get("/portal/").status_code == 302


@pytest.mark.parametrize("language,direction", [("en", "ltr"), ("fa", "rtl")])
def test_the_page_speaks_the_chosen_language_and_direction(
    alice_browser: Browser, language: str, direction: str
) -> None:
    chosen = alice_browser.post("/portal/language/", {"language": language, "next": "/portal/"})
    assert (chosen.status_code, chosen["Location"]) == (302, "/portal/")
    page = alice_browser.get("/portal/").content.decode()
    assert f'<html lang="{language}" dir="{direction}">' in page


def test_a_browser_asking_for_persian_still_gets_english_until_it_chooses(
    alice_browser: Browser,
) -> None:
    page = alice_browser.get("/portal/", HTTP_ACCEPT_LANGUAGE="fa").content.decode()
    assert '<html lang="en" dir="ltr">' in page


def test_every_page_has_a_content_security_policy_without_inline_script(
    alice_browser: Browser, alice_license: Order, alice_unpaid: Order
) -> None:
    for path in owner_pages(alice_license, alice_unpaid):
        answer = alice_browser.get(path)
        policy = answer["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert answer["X-Frame-Options"] == "DENY", path
        scripts = re.findall(r"<script([^>]*)>", answer.content.decode())
        assert scripts and all('src="/static/' in attrs for attrs in scripts), path


# Refusals only an operator at the command line meets (`licensary backup` and `restore` print
# them there); no page ever shows them.
COMMAND_LINE_ONLY = {Path("config/backup.py")}


def codes_raised_in_the_source() -> set[str]:
    """Every error code a `DomainError` is given in src/licensary (the class attribute or the
    `code=` argument)."""
    found: set[str] = set()
    for source in Path(licensary.__file__).parent.rglob("*.py"):
        if source.relative_to(Path(licensary.__file__).parent) in COMMAND_LINE_ONLY:
            continue
        text = source.read_text()
        found |= set(re.findall(r'\bcode\s?=\s?"([a-z_]+)"', text))
    return found - {"credit"}  # the ledger's book code, not an error


def test_every_error_code_has_its_clear_words() -> None:
    assert sorted(codes_raised_in_the_source() - set(EXPLAINED)) == []


@pytest.mark.parametrize("code", sorted(EXPLAINED))
def test_each_error_code_s_page_says_what_it_means(
    alice_browser: Browser, code: str, rf: Any, alice: User
) -> None:
    request = rf.get("/portal/")
    request.user = alice
    answer = error_page(request, code=code, status=409, detail="the service's own words")
    page = answer.content.decode()
    heading, explanation = EXPLAINED[code]
    assert answer.status_code == 409
    assert f'data-code="{code}"' in page
    assert f"<h1>{escape(str(heading))}</h1>" in page
    assert f"<p>{escape(str(explanation))}</p>" in page
    assert "the service&#x27;s own words" in page


def test_a_license_its_agent_pays_for_tells_the_customer_who_renews_it(
    carol: User, dave: User, product: Product, staff: User
) -> None:
    give_credit(carol, 1500, staff)
    order = order_create(actor=carol, product=product, ip=PUBLIC_IP, account=dave)
    invoice_pay_with_credit(invoice=order.invoice, actor=carol)
    run_jobs()
    order.refresh_from_db()

    page = Browser(dave).get(f"/portal/licenses/{order.license_id}/").content.decode()

    assert "Your agent, carol@agent.test, renews and pays for this license" in page
    assert "Get the renewal invoice" not in page
    assert (
        "Get the renewal invoice"
        in Browser(carol).get(f"/portal/licenses/{order.license_id}/").content.decode()
    )
