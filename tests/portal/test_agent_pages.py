"""The agent panel's pages, through Django's test client: carol (a verified agent) creates a
customer, orders for dave at her wholesale price and pays from her credit, reads her prices
and statement, makes tokens with scopes and webhook endpoints, sends a test event, replays a
delivery and rotates a secret; every change is the API's service, once; every refusal is next
to its field or the page of its code, and changes nothing."""

import html
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import account_preferences_set, token_create
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.catalog.models import Product
from licensary.catalog.services import (
    agent_tier_assign,
    agent_tier_create,
    product_create,
    wholesale_price_set,
)
from licensary.governance.bans import account_ban
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.notifications.models import WebhookEndpoint, WebhookMessage
from licensary.notifications.services import endpoint_create, endpoint_test
from licensary.orders.models import Order
from licensary.portal import formatting
from tests.api.conftest import erin, frank
from tests.api.support import unpaid_order
from tests.helpers import PUBLIC_IP, Api, give_credit, make_account, run_jobs
from tests.notifications.conftest import private_ips, receiver
from tests.notifications.receiver import Receiver
from tests.portal.conftest import Browser

__all__ = ["erin", "frank", "private_ips", "receiver"]  # fixtures, used by name

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def carol_browser(carol: User) -> Browser:
    return Browser(carol)


@pytest.fixture
def carol_price(carol: User, product: Product, staff: User) -> Product:
    """carol pays 700 a period and 200 setup for `product` (list: 1000 and 500)."""
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=200)
    return product


def order_for(browser: Browser, customer: User, ip: str = PUBLIC_IP) -> Any:
    return browser.post(
        f"/portal/agent/customers/{customer.pk}/order/", {"product": "panel", "ip": ip}
    )


def agent_pages(customer: User) -> list[str]:
    return [
        "/portal/agent/",
        "/portal/agent/customers/",
        f"/portal/agent/customers/{customer.pk}/",
        f"/portal/agent/customers/{customer.pk}/order/",
        "/portal/agent/prices/",
        "/portal/agent/statement/",
        "/portal/agent/tokens/",
        "/portal/agent/webhooks/",
    ]


def test_every_agent_page_answers_its_agent(
    carol_browser: Browser, dave: User, product: Product
) -> None:
    codes = {path: carol_browser.get(path).status_code for path in agent_pages(dave)}
    assert codes == {path: 200 for path in agent_pages(dave)}


def test_every_agent_page_has_a_content_security_policy_without_inline_script_or_style(
    carol_browser: Browser, dave: User, product: Product
) -> None:
    for path in agent_pages(dave):
        answer = carol_browser.get(path)
        assert "unsafe-inline" not in answer["Content-Security-Policy"], path
        page = answer.content.decode()
        scripts = re.findall(r"<script([^>]*)>", page)
        assert scripts and all('src="/static/' in attrs for attrs in scripts), path
        assert " style=" not in page and "<style" not in page, path


def test_the_agent_panel_link_is_in_the_menu_of_agents_only(
    carol_browser: Browser, alice_browser: Browser
) -> None:
    assert 'href="/portal/agent/"' in carol_browser.get("/portal/").content.decode()
    assert 'href="/portal/agent/"' not in alice_browser.get("/portal/").content.decode()


def test_the_empty_pages_say_what_to_do_next(carol_browser: Browser) -> None:
    pages = {
        path: carol_browser.get(path).content.decode()
        for path in (
            "/portal/agent/customers/",
            "/portal/agent/tokens/",
            "/portal/agent/webhooks/",
            "/portal/agent/statement/",
        )
    }
    assert {path: 'class="empty' in page for path, page in pages.items()} == dict.fromkeys(
        pages, True
    )
    assert "Create one with the form" in pages["/portal/agent/customers/"]
    assert "Make one for your integration" in pages["/portal/agent/tokens/"]


# Customers ---------------------------------------------------------------------------------


def test_an_agent_creates_a_customer_of_its_own_and_lands_on_their_page(
    carol: User, carol_browser: Browser
) -> None:
    answer = carol_browser.post(
        "/portal/agent/customers/", {"email": "dina@example.test", "password": ""}
    )
    dina = User.objects.get(email="dina@example.test")
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/agent/customers/{dina.pk}/")
    assert (dina.kind, dina.agent_id, dina.has_usable_password()) == ("customer", carol.pk, False)
    assert AuditEntry.objects.filter(action="account.created", object_id=str(dina.pk)).count() == 1
    listed = carol_browser.get("/portal/agent/customers/").content.decode()
    assert "dina@example.test" in listed


def test_a_customer_made_with_a_password_signs_in_with_it(carol_browser: Browser) -> None:
    carol_browser.post(
        "/portal/agent/customers/",
        {"email": "dina@example.test", "password": "a long enough password"},
    )
    signed_in = Client().post(
        "/portal/sign-in/", {"username": "dina@example.test", "password": "a long enough password"}
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/portal/")


def test_a_taken_email_is_shown_next_to_its_field_and_makes_nothing(
    carol_browser: Browser, alice: User
) -> None:
    before = User.objects.count()
    answer = carol_browser.post("/portal/agent/customers/", {"email": alice.email})
    page = answer.content.decode()
    assert answer.status_code == 409
    assert 'id="id_email_error"' in page and "An account with this email exists already." in page
    assert User.objects.count() == before


def test_a_weak_password_or_a_bad_email_is_shown_next_to_its_field(
    carol_browser: Browser,
) -> None:
    before = User.objects.count()
    weak = carol_browser.post(
        "/portal/agent/customers/", {"email": "dina@example.test", "password": "123"}
    )
    bad = carol_browser.post("/portal/agent/customers/", {"email": "not an email"})
    assert (weak.status_code, bad.status_code) == (422, 422)
    assert 'id="id_password_error"' in weak.content.decode()
    assert 'id="id_email_error"' in bad.content.decode()
    assert User.objects.count() == before


def test_a_customer_s_page_lists_their_licenses_and_orders(
    carol_browser: Browser, dave: User, carol_price: Product
) -> None:
    order_for(carol_browser, dave)
    order = Order.objects.get(account=dave)
    page = carol_browser.get(f"/portal/agent/customers/{dave.pk}/").content.decode()
    assert PUBLIC_IP in page and f'href="/portal/invoices/{order.invoice_id}/"' in page
    assert "No licenses yet. Order one for this customer" in page


# Ordering for a customer -------------------------------------------------------------------


def test_an_order_for_a_customer_is_the_agent_s_invoice_at_its_wholesale_price(
    carol: User, carol_browser: Browser, dave: User, carol_price: Product
) -> None:
    answer = order_for(carol_browser, dave)
    order = Order.objects.get(account=dave)
    invoice = Invoice.objects.get(pk=order.invoice_id)
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/invoices/{invoice.pk}/")
    assert (invoice.account_id, invoice.total, invoice.status) == (carol.pk, 900, "unpaid")
    assert {line.customer_id for line in invoice.lines.all()} == {dave.pk}


def test_paying_from_credit_delivers_the_license_to_the_customer_and_their_page_shows_it(
    carol: User, carol_browser: Browser, dave: User, carol_price: Product, staff: User
) -> None:
    give_credit(carol, 1000, staff)
    order_for(carol_browser, dave)
    invoice = Invoice.objects.get(account=carol, purpose=Invoice.Purpose.ORDER)
    paid = carol_browser.post(f"/portal/invoices/{invoice.pk}/pay/")
    run_jobs()
    lic = License.objects.get(ip=PUBLIC_IP)
    page = carol_browser.get(f"/portal/agent/customers/{dave.pk}/").content.decode()
    assert paid.status_code == 302
    assert (lic.account_id, lic.billed_to_id, lic.status) == (dave.pk, carol.pk, "active")
    assert account_credit(carol).amount == 100
    assert f'data-testid="license-{lic.pk}"' in page
    assert 'data-testid="customer-license-status">active<' in page
    assert carol_browser.get(f"/portal/licenses/{lic.pk}/").status_code == 200


def test_a_bad_ip_on_the_order_form_is_shown_next_to_its_field_and_orders_nothing(
    carol_browser: Browser, dave: User, carol_price: Product
) -> None:
    private = order_for(carol_browser, dave, ip="10.0.0.1")
    garbage = order_for(carol_browser, dave, ip="not an ip")
    assert (private.status_code, garbage.status_code) == (422, 422)
    assert 'id="id_ip_error"' in private.content.decode()
    assert "Enter the public IPv4 or IPv6 address of the server." in private.content.decode()
    assert 'id="id_ip_error"' in garbage.content.decode()
    assert not Order.objects.exists()


def test_the_order_form_shows_what_the_agent_pays(
    carol_browser: Browser, dave: User, carol_price: Product
) -> None:
    page = carol_browser.get(f"/portal/agent/customers/{dave.pk}/order/").content.decode()
    assert "$7.00" in page and "$2.00" in page and "$10.00" not in page


def test_an_unverified_agent_sees_why_it_cannot_sell_and_its_order_is_refused(
    staff: User, product: Product
) -> None:
    olga = make_account("olga@agent.test", kind="agent")
    customer = make_account("pat@example.test", agent=olga)
    browser = Browser(olga)
    dashboard = browser.get("/portal/agent/").content.decode()
    form = browser.get(f"/portal/agent/customers/{customer.pk}/order/").content.decode()
    refused = order_for(browser, customer)
    assert 'data-testid="cannot-sell"' in dashboard and 'data-testid="cannot-sell"' in form
    assert "Agents sell once staff have verified their identity." in dashboard
    assert refused.status_code == 403
    assert 'id="id_product_error"' in refused.content.decode()
    assert not Order.objects.exists()


def test_a_verified_agent_is_not_told_it_cannot_sell(carol_browser: Browser) -> None:
    assert 'data-testid="cannot-sell"' not in carol_browser.get("/portal/agent/").content.decode()


def test_an_unverified_agent_sends_its_identity_document_and_then_waits_for_staff(
    staff: User,
) -> None:
    olga = make_account("olga@agent.test", kind="agent")
    browser = Browser(olga)
    sent = browser.post(
        "/portal/agent/identity/", {"document": SimpleUploadedFile("id.png", PNG + b"olga")}
    )
    olga.refresh_from_db()
    dashboard = browser.get("/portal/agent/").content.decode()
    assert (sent.status_code, sent["Location"]) == (302, "/portal/agent/")
    assert olga.identity == User.Identity.PENDING
    assert "Your identity document is waiting for staff." in dashboard
    assert 'action="/portal/agent/identity/"' not in dashboard


def test_a_document_that_is_no_image_or_pdf_is_refused_next_to_its_field(staff: User) -> None:
    olga = make_account("olga@agent.test", kind="agent")
    answer = Browser(olga).post(
        "/portal/agent/identity/", {"document": SimpleUploadedFile("id.txt", b"hello there")}
    )
    olga.refresh_from_db()
    assert answer.status_code == 415
    assert 'id="id_document_error"' in answer.content.decode()
    assert olga.identity == User.Identity.UNVERIFIED


# Prices, credit and statement --------------------------------------------------------------


def test_the_prices_page_shows_the_agent_s_own_price_its_tier_s_and_the_list_price(
    carol: User, carol_browser: Browser, carol_price: Product, staff: User
) -> None:
    from_tier = product_create(
        actor=staff, slug="mail", name="Mail Gate", kind="own", price=2000, setup_fee=0
    )
    product_create(actor=staff, slug="dns", name="DNS Box", kind="own", price=300, setup_fee=100)
    gold = agent_tier_create(actor=staff, name="gold")
    agent_tier_assign(actor=staff, agent=carol, tier=gold)
    wholesale_price_set(actor=staff, product=from_tier, tier=gold, price=1500, setup_fee=0)
    page = carol_browser.get("/portal/agent/prices/").content.decode()
    rows = {
        slug: html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip())
        for slug, row in re.findall(r'data-testid="price-([a-z]+)">(.*?)</tr>', page, re.S)
    }
    assert rows == {
        "dns": "DNS Box system license $3.00 $1.00 $3.00 $1.00 list price",
        "mail": "Mail Gate system license $15.00 $0.00 $20.00 $0.00 your tier's price",
        "panel": "Panel Pro system license $7.00 $2.00 $10.00 $5.00 your own price",
    }
    assert "gold" in page


def test_the_statement_shows_what_was_sold_for_whom_and_how_the_credit_moved(
    carol: User, carol_browser: Browser, dave: User, carol_price: Product, staff: User
) -> None:
    give_credit(carol, 1000, staff)
    order_for(carol_browser, dave)
    invoice = Invoice.objects.get(account=carol)
    carol_browser.post(f"/portal/invoices/{invoice.pk}/pay/")
    today = timezone.now().date()
    page = carol_browser.get(
        f"/portal/agent/statement/?start={today - timedelta(days=1)}&end={today}"
    ).content.decode()
    assert 'data-testid="opening-credit">$0.00<' in page
    assert 'data-testid="closing-credit">$1.00<' in page
    assert 'data-testid="total-sold">$9.00<' in page
    assert 'data-testid="total-paid">$9.00<' in page
    # The license line and the setup fee line, each naming dave.
    assert page.count(f'href="/portal/agent/customers/{dave.pk}/"') == 2
    assert "test top-up" in page


def test_the_statement_of_days_before_any_sale_is_empty_and_says_so(
    carol: User, carol_browser: Browser, dave: User, carol_price: Product
) -> None:
    order_for(carol_browser, dave)
    page = carol_browser.get(
        "/portal/agent/statement/?start=2020-01-01&end=2020-01-31"
    ).content.decode()
    assert "No invoice was issued to you between these days." in page
    assert "dave@example.test" not in page


def test_a_statement_ending_before_it_starts_or_too_long_is_refused_on_the_form(
    carol_browser: Browser,
) -> None:
    backwards = carol_browser.get("/portal/agent/statement/?start=2026-03-02&end=2026-03-01")
    too_long = carol_browser.get("/portal/agent/statement/?start=2020-01-01&end=2026-01-01")
    garbage = carol_browser.get("/portal/agent/statement/?start=yesterday&end=2026-01-01")
    assert (backwards.status_code, too_long.status_code, garbage.status_code) == (422, 422, 422)
    assert 'id="id_end_error"' in backwards.content.decode()
    assert "A statement covers at most 731 days." in too_long.content.decode()
    assert 'id="id_start_error"' in garbage.content.decode()


def test_the_statement_in_persian_has_jalali_days(carol: User, carol_browser: Browser) -> None:
    account_preferences_set(account=carol, actor=carol, language="fa")
    page = carol_browser.get("/portal/agent/statement/?start=2026-03-01&end=2026-03-31")
    with translation.override("fa"):
        first = formatting.format_day(date(2026, 3, 1))
    assert '<html lang="fa" dir="rtl">' in page.content.decode()
    assert first in page.content.decode()  # ۱۰ اسفند ۱۴۰۴


# API tokens --------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_can_do_only_what_its_scopes_allow(
    carol: User, carol_browser: Browser
) -> None:
    answer = carol_browser.post(
        "/portal/agent/tokens/", {"name": "shop", "scopes": ["read", "orders"]}
    )
    text = re.search(r'data-testid="new-token">([^<]+)<', answer.content.decode()).group(1)
    token = ApiToken.objects.get(user=carol)
    api = Api(text)
    assert answer.status_code == 201
    assert "no-store" in answer["Cache-Control"]
    assert (token.name, token.scopes) == ("shop", ["read", "orders"])
    assert api.get("/account").json_body["email"] == carol.email
    refused = api.post("/webhooks", {"url": "https://93.184.216.34/h", "events": ["invoice.paid"]})
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")
    assert text not in carol_browser.get("/portal/agent/tokens/").content.decode()


def test_a_token_with_an_expiry_day_stops_at_its_end(carol: User, carol_browser: Browser) -> None:
    day = timezone.now().date() + timedelta(days=3)
    carol_browser.post("/portal/agent/tokens/", {"scopes": ["read"], "valid_through": str(day)})
    expires = ApiToken.objects.get(user=carol).expires_at
    assert (
        expires is not None and expires.isoformat() == f"{day + timedelta(days=1)}T00:00:00+00:00"
    )


def test_a_token_without_scopes_or_expiring_in_the_past_is_refused_next_to_the_field(
    carol: User, carol_browser: Browser
) -> None:
    none = carol_browser.post("/portal/agent/tokens/", {"name": "x"})
    past = carol_browser.post(
        "/portal/agent/tokens/", {"scopes": ["read"], "valid_through": "2020-01-01"}
    )
    assert (none.status_code, past.status_code) == (422, 422)
    assert 'id="id_scopes_error"' in none.content.decode()
    assert 'id="id_valid_through_error"' in past.content.decode()
    assert not ApiToken.objects.filter(user=carol).exists()


def test_revoking_a_token_ends_it_once(carol: User, carol_browser: Browser) -> None:
    answer = carol_browser.post("/portal/agent/tokens/", {"scopes": ["read"]})
    text = re.search(r'data-testid="new-token">([^<]+)<', answer.content.decode()).group(1)
    token = ApiToken.objects.get(user=carol)
    first = carol_browser.post(f"/portal/agent/tokens/{token.pk}/revoke/")
    second = carol_browser.post(f"/portal/agent/tokens/{token.pk}/revoke/")
    assert (first.status_code, second.status_code) == (302, 409)
    assert Api(text).get("/account").status_code == 401
    assert AuditEntry.objects.filter(action="token.revoked").count() == 1


# Webhook endpoints -------------------------------------------------------------------------


def register(browser: Browser, url: str, events: list[str] | None = None) -> Any:
    return browser.post("/portal/agent/webhooks/", {"url": url, "events": events or ["claim.*"]})


def test_an_endpoint_is_registered_and_its_secret_shown_once(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    answer = register(carol_browser, receiver.url, ["invoice.paid", "transfer.*"])
    secret = re.search(r'data-testid="new-secret">([^<]+)<', answer.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get(agent=carol)
    assert (answer.status_code, secret[:6]) == (201, "whsec_")
    assert "no-store" in answer["Cache-Control"]
    assert (endpoint.url, endpoint.events) == (receiver.url, ["invoice.paid", "transfer.*"])
    assert secret not in carol_browser.get("/portal/agent/webhooks/").content.decode()
    assert (
        secret not in carol_browser.get(f"/portal/agent/webhooks/{endpoint.pk}/").content.decode()
    )


def test_a_private_address_or_plain_http_is_refused_next_to_the_url(
    carol: User, carol_browser: Browser
) -> None:
    private = register(carol_browser, "https://127.0.0.1/hooks")
    plain = register(carol_browser, "http://93.184.216.34/hooks")
    no_events = carol_browser.post("/portal/agent/webhooks/", {"url": "https://93.184.216.34/h"})
    assert (private.status_code, plain.status_code, no_events.status_code) == (422, 422, 422)
    assert 'id="id_url_error"' in private.content.decode()
    assert "Use a public https address." in plain.content.decode()
    assert 'id="id_events_error"' in no_events.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_an_eleventh_endpoint_is_refused_on_the_form(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    for n in range(10):
        endpoint_create(actor=carol, url=f"{receiver.url}/{n}", events=["claim.*"])
    answer = register(carol_browser, receiver.url)
    assert answer.status_code == 409
    assert "Remove one before adding another." in answer.content.decode()
    assert WebhookEndpoint.objects.count() == 10


def test_a_test_event_is_delivered_and_the_log_shows_it(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    sent = carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/test/")
    waiting = carol_browser.get(f"/portal/agent/webhooks/{endpoint.pk}/").content.decode()
    run_jobs()
    log = carol_browser.get(
        f"/portal/agent/webhooks/{endpoint.pk}/deliveries/", HTTP_HX_REQUEST="true"
    ).content.decode()
    message = WebhookMessage.objects.get()
    assert (sent.status_code, sent["Location"]) == (302, f"/portal/agent/webhooks/{endpoint.pk}/")
    assert 'hx-trigger="every 5s"' in waiting  # the log refreshes itself while one is pending
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.webhook_id]
    assert log.startswith('<section class="card" id="deliveries"') and "<html" not in log
    assert 'data-testid="delivery-status">succeeded<' in log and "HTTP 200" in log
    assert 'hx-trigger="every 5s"' not in log


def test_a_delivery_sent_again_goes_with_the_same_webhook_id(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/test/")
    run_jobs()
    message = WebhookMessage.objects.get()
    again = carol_browser.post(
        f"/portal/agent/webhooks/{endpoint.pk}/deliveries/{message.pk}/replay/"
    )
    run_jobs()
    assert again.status_code == 302
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.webhook_id] * 2
    assert AuditEntry.objects.filter(action="webhook.delivery_replayed").count() == 1


def test_rotating_the_secret_shows_the_new_one_once_and_both_sign_for_a_day(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    endpoint, old = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    answer = carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/rotate-secret/")
    secret = re.search(r'data-testid="new-secret">([^<]+)<', answer.content.decode()).group(1)
    endpoint.refresh_from_db()
    assert (answer.status_code, secret[:6], secret != old) == (200, "whsec_", True)
    assert "no-store" in answer["Cache-Control"]
    assert endpoint.previous_secret_expires_at is not None
    assert (
        secret not in carol_browser.get(f"/portal/agent/webhooks/{endpoint.pk}/").content.decode()
    )


def test_disabling_an_endpoint_stops_tests_and_enabling_starts_it_again(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    off = carol_browser.post(
        f"/portal/agent/webhooks/{endpoint.pk}/status/", {"status": "disabled"}
    )
    refused = carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/test/")
    page = carol_browser.get(f"/portal/agent/webhooks/{endpoint.pk}/").content.decode()
    on = carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/status/", {"status": "enabled"})
    endpoint.refresh_from_db()
    assert (off.status_code, refused.status_code, on.status_code) == (302, 409, 302)
    assert (
        'data-testid="webhook-status">disabled<' in page
        and "Send a test event</button>" not in page
    )
    assert endpoint.status == WebhookEndpoint.Status.ENABLED
    assert not WebhookMessage.objects.exists()


def test_an_endpoint_status_that_is_no_status_changes_nothing(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    answer = carol_browser.post(f"/portal/agent/webhooks/{endpoint.pk}/status/", {"status": "x"})
    endpoint.refresh_from_db()
    assert answer.status_code == 422
    assert 'data-code="validation_error"' in answer.content.decode()
    assert endpoint.status == WebhookEndpoint.Status.ENABLED


# Sessions and CSRF -------------------------------------------------------------------------


def agent_posts(customer: User) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/portal/agent/customers/", {"email": "new@example.test"}),
        (f"/portal/agent/customers/{customer.pk}/order/", {"product": "panel", "ip": PUBLIC_IP}),
        ("/portal/agent/tokens/", {"scopes": ["read"]}),
        ("/portal/agent/webhooks/", {"url": "https://93.184.216.34/h", "events": ["claim.*"]}),
    ]


def test_an_agent_post_without_its_csrf_token_is_refused_and_changes_nothing(
    carol_browser: Browser, dave: User, product: Product
) -> None:
    before = (User.objects.count(), Order.objects.count(), ApiToken.objects.count())
    codes = {
        path: carol_browser.client.post(path, data).status_code for path, data in agent_posts(dave)
    }
    assert codes == {path: 403 for path, _ in agent_posts(dave)}
    assert (User.objects.count(), Order.objects.count(), ApiToken.objects.count()) == before


def test_the_anonymous_are_sent_to_sign_in(dave: User) -> None:
    anonymous = Client()
    answers = [anonymous.get(path) for path in agent_pages(dave)] + [
        anonymous.post(path, data) for path, data in agent_posts(dave)
    ]
    assert {(a.status_code, a["Location"].split("?")[0]) for a in answers} == {
        (302, "/portal/sign-in/")
    }


def test_a_banned_agent_reads_its_panel_and_changes_nothing(
    carol: User, dave: User, product: Product, staff: User, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    account_ban(account=carol, actor=staff, reason="sharing", note="resold access")
    browser = Browser(carol)  # signed in again: the ban ended her sessions
    before = (User.objects.count(), Order.objects.count(), ApiToken.objects.count())
    reads = {path: browser.get(path).status_code for path in agent_pages(dave)}
    writes = {
        path: browser.post(path, data).status_code
        for path, data in [
            *agent_posts(dave),
            (f"/portal/agent/webhooks/{endpoint.pk}/test/", {}),
            (f"/portal/agent/webhooks/{endpoint.pk}/rotate-secret/", {}),
            (f"/portal/agent/webhooks/{endpoint.pk}/status/", {"status": "disabled"}),
        ]
    }
    assert reads == dict.fromkeys(reads, 200)
    assert writes == dict.fromkeys(writes, 403)
    assert 'data-code="account_banned"' in browser.post("/portal/agent/tokens/").content.decode()
    assert (User.objects.count(), Order.objects.count(), ApiToken.objects.count()) == before
    assert not WebhookMessage.objects.exists()


def queries_of(browser: Browser, path: str, **extra: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(path, **extra).status_code == 200
    return len(captured)


def test_the_lists_cost_as_many_queries_for_many_rows_as_for_few(
    carol: User, carol_browser: Browser, dave: User, product: Product, receiver: Receiver
) -> None:
    endpoint, _secret = endpoint_create(actor=carol, url=receiver.url, events=["claim.*"])
    for _ in range(2):
        endpoint_test(endpoint=endpoint, actor=carol)
        token_create(user=carol, scopes=["read"], actor=carol)
    run_jobs()
    paths = [
        "/portal/agent/customers/",
        f"/portal/agent/customers/{dave.pk}/",
        "/portal/agent/tokens/",
        "/portal/agent/webhooks/",
        f"/portal/agent/webhooks/{endpoint.pk}/",
        "/portal/agent/statement/",
    ]
    few = {path: queries_of(carol_browser, path) for path in paths}
    for n in range(6):
        make_account(f"c{n}@example.test", agent=carol)
        endpoint_test(endpoint=endpoint, actor=carol)
        token_create(user=carol, scopes=["read"], actor=carol)
        endpoint_create(actor=carol, url=f"{receiver.url}/{n}", events=["claim.*"])
        unpaid_order(dave, product, f"93.184.216.{40 + n}", actor=carol)
    run_jobs()
    many = {path: queries_of(carol_browser, path) for path in paths}
    assert many == few
    assert max(few.values()) <= 20


# A form that shows a secret, sent again (the browser's reload) -------------------------------


def form_key_on(page: Any) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', page.content.decode())
    assert found, "the form carries no form_key"
    return found.group(1)


def test_reloading_the_page_of_a_new_token_makes_no_second_one(
    carol: User, carol_browser: Browser
) -> None:
    key = form_key_on(carol_browser.get("/portal/agent/tokens/"))
    fields = {"name": "shop", "scopes": ["read"], "form_key": key}
    first = carol_browser.post("/portal/agent/tokens/", fields)
    made = ApiToken.objects.get(user=carol)
    again = carol_browser.post("/portal/agent/tokens/", fields)  # what a reload sends
    assert (first.status_code, again.status_code, again["Location"]) == (
        201,
        302,
        "/portal/agent/tokens/",
    )
    assert list(ApiToken.objects.filter(user=carol)) == [made]
    listed = carol_browser.get("/portal/agent/tokens/").content.decode()
    assert "That form was sent already" in listed
    assert AuditEntry.objects.filter(action="token.created").count() == 1
    # A key the session never issued (a forged or very old form) makes nothing either.
    forged = carol_browser.post("/portal/agent/tokens/", {**fields, "form_key": "made-up"})
    assert forged.status_code == 302 and ApiToken.objects.filter(user=carol).count() == 1
    # A fresh page's key makes a new one.
    fresh = form_key_on(carol_browser.get("/portal/agent/tokens/"))
    carol_browser.post("/portal/agent/tokens/", {**fields, "form_key": fresh})
    assert ApiToken.objects.filter(user=carol).count() == 2


def test_reloading_a_new_endpoint_or_a_rotated_secret_changes_nothing_more(
    carol: User, carol_browser: Browser, receiver: Receiver
) -> None:
    key = form_key_on(carol_browser.get("/portal/agent/webhooks/"))
    fields = {"url": receiver.url, "events": ["claim.*"], "form_key": key}
    assert carol_browser.post("/portal/agent/webhooks/", fields).status_code == 201
    assert carol_browser.post("/portal/agent/webhooks/", fields).status_code == 302
    endpoint = WebhookEndpoint.objects.get(agent=carol)

    page = carol_browser.get(f"/portal/agent/webhooks/{endpoint.pk}/")
    rotate = f"/portal/agent/webhooks/{endpoint.pk}/rotate-secret/"
    first = carol_browser.post(rotate, {"form_key": form_key_on(page)})
    endpoint.refresh_from_db()
    sealed_after_first = endpoint.secret_sealed
    again = carol_browser.post(rotate, {"form_key": form_key_on(page)})
    endpoint.refresh_from_db()
    assert (first.status_code, again.status_code) == (200, 302)
    assert endpoint.secret_sealed == sealed_after_first
    assert AuditEntry.objects.filter(action="webhook.secret_rotated").count() == 1
