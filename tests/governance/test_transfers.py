"""Transfers (rule 10): the owner asks through a transfers ticket, the recipient accepts or
declines; on accept the same license moves, its period unchanged, no fee; one pending
transfer per license; 7 days to decide."""

from datetime import timedelta

import pytest
import time_machine

from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.licenses.models import License
from licensary.licenses.sweep import run_steps
from licensary.support.models import Ticket
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def lic(alice, product, staff) -> License:
    return License.objects.get(pk=delivered_order(alice, product, PUBLIC_IP, staff).license_id)


def ask(owner, lic, to) -> dict:
    made = api_for(owner).post("/transfers", {"license": str(lic.pk), "to_account": to})
    assert made.status_code == 201, made.json_body
    return made.json_body


def test_an_accepted_transfer_moves_the_same_license_with_its_period_and_no_fee(alice, bob, lic):
    invoices = Invoice.objects.count()
    transfer = ask(alice, lic, bob.email)

    accepted = api_for(bob).post(f"/transfers/{transfer['id']}/accept")

    assert transfer["status"] == "pending"
    ticket = Ticket.objects.get(pk=transfer["ticket"])
    assert (ticket.department, ticket.license_id) == ("transfers", lic.pk)
    assert bob.email in ticket.messages.get().body
    assert accepted.json_body["status"] == "accepted"
    moved = License.objects.get(pk=lic.pk)
    assert (moved.account_id, moved.period_end, moved.status) == (bob.pk, lic.period_end, "active")
    assert Invoice.objects.count() == invoices  # no fee
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"
    assert api_for(bob).get(f"/licenses/{lic.pk}").status_code == 200
    assert api_for(alice).get(f"/licenses/{lic.pk}").status_code == 404
    entry = AuditEntry.objects.get(action="license.transferred")
    assert (entry.before, entry.after["account"]) == ({"account": alice.pk}, bob.pk)
    assert set(
        AuditEntry.objects.filter(action="transfer.accepted").values_list("account_id", flat=True)
    ) == {alice.pk, bob.pk}


def test_a_declined_transfer_leaves_the_license_where_it_was(alice, bob, lic):
    transfer = ask(alice, lic, str(bob.pk))

    declined = api_for(bob).post(f"/transfers/{transfer['id']}/decline")
    again = api_for(bob).post(f"/transfers/{transfer['id']}/accept")

    assert declined.json_body["status"] == "declined"
    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")
    assert License.objects.get(pk=lic.pk).account_id == alice.pk


def test_only_the_recipient_accepts_and_only_the_owner_cancels(alice, bob, charlie_like, lic):
    transfer = ask(alice, lic, bob.email)

    by_owner = api_for(alice).post(f"/transfers/{transfer['id']}/accept")
    by_stranger = api_for(charlie_like).post(f"/transfers/{transfer['id']}/accept")
    by_recipient = api_for(bob).post(f"/transfers/{transfer['id']}/cancel")
    canceled = api_for(alice).post(f"/transfers/{transfer['id']}/cancel")

    assert (by_owner.status_code, by_owner.json_body["code"]) == (403, "permission_denied")
    assert (by_stranger.status_code, by_stranger.json_body["code"]) == (404, "not_found")
    assert by_recipient.json_body["code"] == "permission_denied"
    assert (canceled.json_body["status"], canceled.json_body["cancel_reason"]) == (
        "canceled",
        "by the owner",
    )


def test_one_pending_transfer_per_license(alice, bob, charlie_like, lic):
    ask(alice, lic, bob.email)

    second = api_for(alice).post(
        "/transfers", {"license": str(lic.pk), "to_account": charlie_like.email}
    )

    assert (second.status_code, second.json_body["code"]) == (409, "transfer_pending")


def test_a_pending_transfer_expires_after_seven_days_without_any_job(alice, bob, lic):
    transfer = ask(alice, lic, bob.email)
    created = AuditEntry.objects.filter(action="transfer.requested").first().created_at

    with time_machine.travel(created + timedelta(days=7) - timedelta(seconds=1)):
        before_end = api_for(bob).get(f"/transfers/{transfer['id']}").json_body["status"]
    with time_machine.travel(created + timedelta(days=7, seconds=1)):
        seen = api_for(bob).get(f"/transfers/{transfer['id']}").json_body
        late = api_for(bob).post(f"/transfers/{transfer['id']}/accept")

    assert before_end == "pending"
    assert (seen["status"], seen["cancel_reason"]) == ("canceled", "expired")
    assert (late.status_code, late.json_body["code"]) == (409, "invalid_transition")
    assert License.objects.get(pk=lic.pk).account_id == alice.pk


def test_an_agent_transfers_its_customers_license(carol, dave, bob, product, staff):
    lic = License.objects.get(pk=delivered_order(dave, product, PUBLIC_IP, staff).license_id)

    transfer = ask(carol, lic, bob.email)
    api_for(bob).post(f"/transfers/{transfer['id']}/accept")

    assert transfer["from_account"] == str(dave.pk)
    assert License.objects.get(pk=lic.pk).account_id == bob.pk


@pytest.mark.parametrize("to", ["nobody@example.test", "999999", "sam@staff.test", ""])
def test_a_transfer_to_no_such_recipient_is_not_found_and_makes_nothing(alice, staff, lic, to):
    refused = api_for(alice).post("/transfers", {"license": str(lic.pk), "to_account": to})

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")
    assert Ticket.objects.count() == 0


def test_another_accounts_license_cannot_be_transferred(bob, alice, lic):
    refused = api_for(bob).post("/transfers", {"license": str(lic.pk), "to_account": bob.email})

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")


def test_a_ban_cancels_the_pending_transfers_of_the_banned_account(alice, bob, staff, lic):
    transfer = ask(alice, lic, bob.email)

    api_for(staff).post(f"/accounts/{bob.pk}/ban", {"reason": "sharing", "note": "resold"})

    seen = api_for(alice).get(f"/transfers/{transfer['id']}").json_body
    assert (seen["status"], seen["cancel_reason"]) == ("canceled", "account banned")


def test_the_new_owner_gets_the_next_renewal_invoice_after_a_transfer(alice, bob, lic):
    with time_machine.travel(lic.period_end - timedelta(days=3)):
        run_steps()
        assert Invoice.objects.filter(account=alice, purpose="renewal", status="unpaid").exists()
        transfer = ask(alice, lic, bob.email)
        api_for(bob).post(f"/transfers/{transfer['id']}/accept")
        run_steps()

    assert Invoice.objects.filter(account=alice, purpose="renewal").get().status == "void"
    assert Invoice.objects.filter(account=bob, purpose="renewal", status="unpaid").count() == 1


def test_a_recipient_that_is_no_number_nor_email_is_not_found(alice, lic):
    refused = api_for(alice).post("/transfers", {"license": str(lic.pk), "to_account": "\u00b2"})

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")
