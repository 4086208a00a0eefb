"""A deposit asked for on the portal (an invoice that becomes credit, never refundable), and a
refund asked for on a paid invoice: the page shows the policy's rule and eligible amount before
asking, and the request as recorded after; refusals change nothing."""

import pytest

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Refund
from licensary.governance.bans import account_ban
from licensary.licenses.services import license_mark_unresolvable
from licensary.orders.models import Order
from tests.portal.conftest import Browser


@pytest.mark.parametrize("typed,minor", [("50", 5000), ("50.25", 5025), ("۱۲٫۵", 1250)])
def test_a_deposit_is_an_invoice_for_the_amount_asked(
    alice: User, alice_browser: Browser, typed: str, minor: int
) -> None:
    answer = alice_browser.post("/portal/deposits/new/", {"amount": typed})
    invoice = Invoice.objects.get(account=alice)
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/invoices/{invoice.pk}/")
    assert (invoice.purpose, invoice.total, invoice.status) == ("deposit", minor, "unpaid")
    assert [line.kind for line in invoice.lines.all()] == ["deposit"]


@pytest.mark.parametrize("typed", ["", "0", "-5", "1.234", "lots", "NaN", "1e9999"])
def test_a_deposit_of_no_real_amount_is_refused_and_issues_nothing(
    alice_browser: Browser, typed: str
) -> None:
    answer = alice_browser.post("/portal/deposits/new/", {"amount": typed})
    assert answer.status_code == 422
    assert 'id="id_amount_error"' in answer.content.decode()
    assert Invoice.objects.count() == 0


def test_a_deposit_above_the_limit_is_refused_next_to_its_field(alice_browser: Browser) -> None:
    answer = alice_browser.post("/portal/deposits/new/", {"amount": "100000.01"})
    assert answer.status_code == 422
    assert "<li>A deposit is at most $100,000.00.</li>" in answer.content.decode()
    assert Invoice.objects.count() == 0


def test_an_activated_system_license_shows_no_refund_before_asking(
    alice_browser: Browser, alice_license: Order
) -> None:
    page = alice_browser.get(f"/portal/invoices/{alice_license.invoice_id}/").content.decode()
    assert 'data-testid="refund-eligible">$0.00<' in page
    assert "<code>own_activated_no_refund</code>" in page
    assert "Ask for the refund" not in page


def test_an_unresolvable_problem_s_refund_is_asked_for_and_shown_as_recorded(
    alice: User, alice_browser: Browser, alice_license: Order, staff: User
) -> None:
    assert alice_license.license is not None
    license_mark_unresolvable(license=alice_license.license, actor=staff, note="cannot be fixed")
    path = f"/portal/invoices/{alice_license.invoice_id}/"
    before = alice_browser.get(path).content.decode()
    assert 'data-testid="refund-eligible">$10.00<' in before  # all of it but the setup fee
    assert "<code>own_unresolvable_less_setup_fee</code>" in before

    answer = alice_browser.post(f"{path}refund/", {"reason": "The license never worked."})
    assert (answer.status_code, answer["Location"]) == (302, path)
    refund = Refund.objects.get(invoice_id=alice_license.invoice_id)
    assert (refund.status, refund.eligible, refund.rule, refund.requested_by_id) == (
        "requested",
        1000,
        "own_unresolvable_less_setup_fee",
        alice.pk,
    )
    after = alice_browser.get(path).content.decode()
    assert 'data-testid="refund-status">requested<' in after
    assert "Ask for the refund" not in after  # one open request at a time


def test_a_refund_asked_for_without_a_reason_is_not_recorded(
    alice_browser: Browser, alice_license: Order, staff: User
) -> None:
    assert alice_license.license is not None
    license_mark_unresolvable(license=alice_license.license, actor=staff, note="cannot be fixed")
    path = f"/portal/invoices/{alice_license.invoice_id}/"
    answer = alice_browser.post(f"{path}refund/", {"reason": "   "})
    assert (answer.status_code, answer["Location"]) == (302, path)
    assert "Say why you ask for the refund." in alice_browser.get(path).content.decode()
    assert Refund.objects.count() == 0


def test_another_account_s_invoice_takes_no_refund_request(
    bob_browser: Browser, alice_license: Order
) -> None:
    answer = bob_browser.post(
        f"/portal/invoices/{alice_license.invoice_id}/refund/", {"reason": "mine now"}
    )
    assert answer.status_code == 404
    assert Refund.objects.count() == 0


def test_a_banned_account_asks_for_no_refund(
    alice: User, alice_browser: Browser, alice_license: Order, staff: User
) -> None:
    account_ban(account=alice, actor=staff, reason="other", note="test")
    browser = Browser(alice)
    answer = browser.post(f"/portal/invoices/{alice_license.invoice_id}/refund/", {"reason": "x"})
    assert answer.status_code == 403
    assert 'data-code="account_banned"' in answer.content.decode()
    assert Refund.objects.count() == 0
