"""Transfers on the portal (rule 10): alice gives her license to bob by his e-mail, bob
accepts (or declines) on his transfers page, alice may cancel meanwhile; refusals are shown
next to the e-mail and change nothing; nobody else sees or decides them."""

from typing import Any

from licensary.accounts.models import User
from licensary.governance.models import Transfer
from licensary.licenses.models import License
from licensary.orders.models import Order
from licensary.support.models import Ticket
from tests.portal.conftest import Browser


def ask(browser: Browser, order: Order, email: str) -> Any:
    return browser.post(f"/portal/licenses/{order.license_id}/transfer/", {"email": email})


def test_alice_gives_her_license_to_bob_who_accepts_it(
    alice: User, bob: User, alice_browser: Browser, bob_browser: Browser, alice_license: Order
) -> None:
    answer = ask(alice_browser, alice_license, "Bob@Example.test")
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"/portal/licenses/{alice_license.license_id}/",
    )
    transfer = Transfer.objects.get()
    assert (transfer.from_account_id, transfer.to_account_id, transfer.status) == (
        alice.pk,
        bob.pk,
        "pending",
    )
    assert Ticket.objects.filter(department="transfers", account=alice).count() == 1
    incoming = bob_browser.get("/portal/transfers/").content.decode()
    assert f'data-testid="incoming-{transfer.pk}"' in incoming

    accepted = bob_browser.post(f"/portal/transfers/{transfer.pk}/accept/")
    assert (accepted.status_code, accepted["Location"]) == (302, "/portal/transfers/")
    lic = License.objects.get(pk=alice_license.license_id)
    assert lic.account_id == bob.pk
    assert bob_browser.get(f"/portal/licenses/{lic.pk}/").status_code == 200
    assert alice_browser.get(f"/portal/licenses/{lic.pk}/").status_code == 404


def test_bob_declines_and_alice_keeps_it(
    alice: User, alice_browser: Browser, bob_browser: Browser, alice_license: Order, bob: User
) -> None:
    ask(alice_browser, alice_license, "bob@example.test")
    transfer = Transfer.objects.get()
    bob_browser.post(f"/portal/transfers/{transfer.pk}/decline/")
    transfer.refresh_from_db()
    assert transfer.status == "declined"
    assert License.objects.get(pk=alice_license.license_id).account_id == alice.pk


def test_alice_cancels_her_pending_transfer_and_bob_can_no_longer_accept(
    alice: User, alice_browser: Browser, bob_browser: Browser, alice_license: Order, bob: User
) -> None:
    ask(alice_browser, alice_license, "bob@example.test")
    transfer = Transfer.objects.get()
    alice_browser.post(f"/portal/transfers/{transfer.pk}/cancel/")
    late = bob_browser.post(f"/portal/transfers/{transfer.pk}/accept/")
    assert late.status_code == 409
    assert 'data-code="invalid_transition"' in late.content.decode()
    assert License.objects.get(pk=alice_license.license_id).account_id == alice.pk


def test_an_unknown_recipient_is_refused_next_to_the_e_mail(
    alice_browser: Browser, alice_license: Order
) -> None:
    answer = ask(alice_browser, alice_license, "nobody@example.test")
    assert answer.status_code == 404
    page = answer.content.decode()
    assert 'id="id_email_error"' in page
    assert Transfer.objects.count() == 0


def test_the_owner_s_own_e_mail_is_refused_next_to_it(
    alice_browser: Browser, alice_license: Order
) -> None:
    answer = ask(alice_browser, alice_license, "alice@example.test")
    assert answer.status_code == 422
    assert 'id="id_email_error"' in answer.content.decode()
    assert Transfer.objects.count() == 0


def test_a_second_transfer_of_the_license_is_refused_while_one_is_pending(
    alice_browser: Browser, alice_license: Order, bob: User, charlie_like: User
) -> None:
    ask(alice_browser, alice_license, "bob@example.test")
    page = alice_browser.get(f"/portal/licenses/{alice_license.license_id}/").content.decode()
    assert "Ask for the transfer" not in page
    again = ask(alice_browser, alice_license, "charlie@example.test")
    assert again.status_code == 409
    assert Transfer.objects.count() == 1


def test_nobody_else_transfers_or_decides(
    alice_browser: Browser,
    bob_browser: Browser,
    alice_license: Order,
    bob: User,
    charlie_like: User,
) -> None:
    assert ask(bob_browser, alice_license, "charlie@example.test").status_code == 404
    ask(alice_browser, alice_license, "bob@example.test")
    transfer = Transfer.objects.get()
    charlie = Browser(charlie_like)
    assert charlie.post(f"/portal/transfers/{transfer.pk}/accept/").status_code == 404
    assert f"incoming-{transfer.pk}" not in charlie.get("/portal/transfers/").content.decode()
    # alice is the owner, not the recipient: she cannot accept her own transfer.
    assert alice_browser.post(f"/portal/transfers/{transfer.pk}/accept/").status_code == 403
    assert License.objects.get(pk=alice_license.license_id).account_id == alice_license.account_id
