"""Paying at a gateway from the invoice page: the gateways this server can take the invoice's
payment at are offered, the checkout is the billing service's (the API's too), the browser
goes to the gateway's page (htmx's HX-Redirect, or a page that links there: the CSP's
form-action refuses a form's redirect to another site), and back on the invoice page it is
told what happens next."""

from typing import Any

from licensary.accounts.models import User
from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_with_credit
from licensary.orders.models import Order
from tests.helpers import give_credit
from tests.payments.conftest import fake_stripe  # the payments tests' local Stripe
from tests.payments.fake_stripe import FakeStripe
from tests.portal.conftest import Browser

__all__ = ["fake_stripe"]  # a fixture, used by name


def test_without_a_configured_gateway_none_is_offered_and_none_is_taken(
    alice_browser: Browser, alice_unpaid: Order, settings: Any
) -> None:
    settings.STRIPE_API_KEY = ""
    page = alice_browser.get(f"/portal/invoices/{alice_unpaid.invoice_id}/").content.decode()
    assert 'name="gateway"' not in page
    answer = alice_browser.post(
        f"/portal/invoices/{alice_unpaid.invoice_id}/checkout/", {"gateway": "stripe"}
    )
    assert answer.status_code == 422
    assert 'data-code="gateway_unavailable"' in answer.content.decode()


def test_stripe_is_offered_and_htmx_is_sent_to_its_page(
    alice_browser: Browser, alice_unpaid: Order, fake_stripe: FakeStripe
) -> None:
    page = alice_browser.get(f"/portal/invoices/{alice_unpaid.invoice_id}/").content.decode()
    assert 'name="gateway" value="stripe"' in page
    assert 'name="gateway" value="zarinpal"' not in page  # a dollar invoice

    answer = alice_browser.post(
        f"/portal/invoices/{alice_unpaid.invoice_id}/checkout/",
        {"gateway": "stripe"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    assert answer["HX-Redirect"].startswith("https://checkout.stripe.test/pay/")
    path, form, _headers = fake_stripe.requests[-1]
    back = f"http://127.0.0.1:8000/portal/invoices/{alice_unpaid.invoice_id}/"
    assert (path, form["success_url"], form["cancel_url"]) == (
        "/v1/checkout/sessions",
        [f"{back}?paid=1"],
        [f"{back}?canceled=1"],
    )
    assert form["metadata[invoice]"] == [str(alice_unpaid.invoice_id)]


def test_without_htmx_a_page_links_to_the_gateway(
    alice_browser: Browser, alice_unpaid: Order, fake_stripe: FakeStripe
) -> None:
    answer = alice_browser.post(
        f"/portal/invoices/{alice_unpaid.invoice_id}/checkout/", {"gateway": "stripe"}
    )
    assert answer.status_code == 200
    assert 'href="https://checkout.stripe.test/pay/' in answer.content.decode()


def test_a_paid_invoice_or_another_account_s_is_not_checked_out(
    alice: User,
    alice_browser: Browser,
    bob_browser: Browser,
    alice_unpaid: Order,
    staff: User,
    fake_stripe: FakeStripe,
) -> None:
    path = f"/portal/invoices/{alice_unpaid.invoice_id}/checkout/"
    assert bob_browser.post(path, {"gateway": "stripe"}).status_code == 404
    give_credit(alice, 1500, staff)
    invoice_pay_with_credit(invoice=alice_unpaid.invoice, actor=alice)
    paid = alice_browser.post(path, {"gateway": "stripe"})
    assert paid.status_code == 409
    assert 'data-code="invalid_transition"' in paid.content.decode()
    assert fake_stripe.requests == []  # the gateway was never asked


def test_back_from_the_gateway_the_page_says_what_happens_next(
    alice_browser: Browser, alice_unpaid: Order
) -> None:
    base = f"/portal/invoices/{alice_unpaid.invoice_id}/"
    paid = alice_browser.get(f"{base}?paid=1").content.decode()
    canceled = alice_browser.get(f"{base}?canceled=1").content.decode()
    assert "The gateway is confirming your payment" in paid
    assert "The payment at the gateway was canceled; nothing was charged." in canceled
    assert Invoice.objects.get(pk=alice_unpaid.invoice_id).status == Invoice.Status.UNPAID
