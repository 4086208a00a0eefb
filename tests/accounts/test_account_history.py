"""Owners read their history (rule 15): every audit entry about the account's orders,
invoices, money, licenses and tickets, newest first; staff appear as "staff"."""

import pytest

from licensary.audit.models import AuditEntry
from licensary.support.services import ticket_message_add, ticket_open
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def lived(alice, staff, product):
    """alice bought a license (with credit staff gave her) and asked support, answered by
    staff, who also wrote an internal note."""
    order = delivered_order(alice, product, PUBLIC_IP, staff)
    ticket = ticket_open(
        account=alice, department="technical", subject="Hi", body="A question.", actor=alice
    )
    ticket_message_add(ticket=ticket, body="An answer.", actor=staff)
    ticket_message_add(ticket=ticket, body="Seems fine.", internal=True, actor=staff)
    return order


def test_the_history_lists_every_kind_of_change_of_the_account_newest_first(alice, lived):
    items = api_for(alice).get("/account/history?limit=200").json_body["items"]

    actions = {i["action"] for i in items}
    assert {"order.created", "invoice.issued", "license.issued", "ticket.opened"} <= actions
    assert any(a.startswith("invoice.paid") or a == "invoice.paid" for a in actions)
    assert any(a.startswith("credit.") for a in actions), actions
    assert "ticket.note_added" not in actions
    ids = [int(i["id"]) for i in items]
    assert ids == sorted(ids, reverse=True)
    assert len(items) == AuditEntry.objects.filter(account_id=alice.pk).count()


def test_staff_appear_as_staff_to_the_owner_and_by_email_to_staff(alice, staff, lived):
    mine = api_for(alice).get("/account/history?limit=200").json_body["items"]
    theirs = api_for(staff).get(f"/accounts/{alice.pk}/history?limit=200").json_body["items"]

    answered = next(i for i in mine if i["action"] == "ticket.message_added")
    assert answered["actor"] == "staff"
    assert staff.email not in str(mine)
    assert next(i for i in theirs if i["action"] == "ticket.message_added")["actor"] == staff.email


def test_an_agent_reads_its_customers_history_and_nobody_else_does(alice, bob, carol, dave, lived):
    assert api_for(bob).get(f"/accounts/{alice.pk}/history").json_body["code"] == "not_found"
    assert api_for(carol).get(f"/accounts/{alice.pk}/history").json_body["code"] == "not_found"
    assert api_for(carol).get(f"/accounts/{dave.pk}/history").status_code == 200


def test_a_banned_account_still_reads_its_history(alice, staff, lived):
    api = api_for(alice)
    api_for(staff).post(f"/accounts/{alice.pk}/ban", {"reason": "other", "note": "terms"})

    # Its tokens were revoked by the ban: it signs in again (a new token) and reads.
    read = api_for(alice).get("/account/history?limit=200")

    assert read.status_code == 200
    assert "account.banned" in {i["action"] for i in read.json_body["items"]}
    assert api.get("/account/history").status_code == 401
