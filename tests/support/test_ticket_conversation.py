"""A ticket's life: opened, answered by staff (the customer is mailed), replied to, noted
internally (never seen by the customer or its agent), assigned, closed and reopened."""

import pytest
from django.core import mail

from licensary.audit.models import AuditEntry
from licensary.support.models import Ticket
from tests.helpers import api_for, run_jobs
from tests.support.conftest import open_body

pytestmark = pytest.mark.django_db


def test_a_customer_opens_a_ticket_which_is_open_with_its_first_message(alice):
    made = api_for(alice).post("/tickets", open_body(department="billing", subject="Amount"))

    assert made.status_code == 201, made.json_body
    ticket = made.json_body
    assert (ticket["department"], ticket["subject"], ticket["status"]) == (
        "billing",
        "Amount",
        "open",
    )
    assert [m["body"] for m in ticket["messages"]] == ["It fails on boot."]
    entry = AuditEntry.objects.get(action="ticket.opened")
    assert (entry.account_id, entry.object_id) == (alice.pk, ticket["id"])


def test_staff_answer_makes_it_answered_and_mails_the_customer_and_a_reply_makes_it_customer_reply(
    alice, staff
):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    answer = api_for(staff).post(f"/tickets/{ticket['id']}/messages", {"body": "Try again now."})
    run_jobs()
    answered = api_for(alice).get(f"/tickets/{ticket['id']}").json_body
    api_for(alice).post(f"/tickets/{ticket['id']}/messages", {"body": "Still broken."})
    replied = api_for(alice).get(f"/tickets/{ticket['id']}").json_body

    assert answer.status_code == 201
    assert answered["status"] == "answered"
    assert answered["messages"][1]["author"] == "staff"  # never the staff member's e-mail
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "Try again now." in mail.outbox[0].body
    assert replied["status"] == "customer_reply"


def test_an_internal_note_is_never_seen_by_the_customer_or_its_agent_and_mails_nobody(
    carol, dave, staff
):
    ticket = api_for(carol).post("/tickets", open_body(account=str(dave.pk))).json_body

    note = api_for(staff).post(
        f"/tickets/{ticket['id']}/messages", {"body": "Suspect reseller.", "internal": True}
    )
    run_jobs()

    assert note.status_code == 201
    for viewer in (dave, carol):
        seen = api_for(viewer).get(f"/tickets/{ticket['id']}").json_body
        assert "Suspect reseller." not in str(seen)
        assert seen["status"] == "open"  # a note is no answer
    staff_view = api_for(staff).get(f"/tickets/{ticket['id']}").json_body
    assert [m["internal"] for m in staff_view["messages"]] == [False, True]
    assert mail.outbox == []


def test_a_customer_cannot_write_an_internal_note(alice):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    refused = api_for(alice).post(
        f"/tickets/{ticket['id']}/messages", {"body": "psst", "internal": True}
    )

    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")
    assert Ticket.objects.get().messages.count() == 1


def test_staff_assign_a_ticket_and_the_customer_sees_only_that_staff_has_it(alice, staff):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    assigned = api_for(staff).post(f"/tickets/{ticket['id']}/assign", {"staff": str(staff.pk)})
    mine = api_for(staff).get("/tickets?assigned=me").json_body["items"]
    seen = api_for(alice).get(f"/tickets/{ticket['id']}").json_body

    assert assigned.json_body["assigned_to"] == staff.email
    assert [t["id"] for t in mine] == [ticket["id"]]
    assert seen["assigned_to"] == "staff"
    assert AuditEntry.objects.filter(action="ticket.assigned").count() == 1


def test_a_closed_ticket_reopens_when_the_customer_writes(alice):
    api = api_for(alice)
    ticket = api.post("/tickets", open_body()).json_body

    closed = api.post(f"/tickets/{ticket['id']}/close", {"note": "solved"})
    again = api.post(f"/tickets/{ticket['id']}/close")
    api.post(f"/tickets/{ticket['id']}/messages", {"body": "It broke again."})

    assert closed.json_body["status"] == "closed"
    assert closed.json_body["closed_at"] is not None
    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")
    reopened = api.get(f"/tickets/{ticket['id']}").json_body
    assert (reopened["status"], reopened["closed_at"]) == ("customer_reply", None)


def test_tickets_of_another_account_are_not_found(alice, bob, carol, dave):
    alices = api_for(alice).post("/tickets", open_body()).json_body
    daves = api_for(dave).post("/tickets", open_body()).json_body

    for caller, ticket in ((bob, alices), (carol, alices), (alice, daves)):
        api = api_for(caller)
        assert api.get(f"/tickets/{ticket['id']}").json_body["code"] == "not_found"
        answer = api.post(f"/tickets/{ticket['id']}/messages", {"body": "hi"})
        assert answer.json_body["code"] == "not_found"
        assert api.post(f"/tickets/{ticket['id']}/close").json_body["code"] == "not_found"
    # The agent sees its customer's ticket, and only that one.
    assert [t["id"] for t in api_for(carol).get("/tickets").json_body["items"]] == [daves["id"]]


def test_a_ticket_about_another_accounts_license_is_not_found(bob, alices_license):
    refused = api_for(bob).post("/tickets", open_body(license=str(alices_license.pk)))

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")
    assert Ticket.objects.count() == 0


def test_a_banned_account_cannot_open_tickets(alice, staff):
    api_for(staff).post(f"/accounts/{alice.pk}/ban", {"reason": "support_spam", "note": "spam"})

    refused = api_for(alice).post("/tickets", open_body())

    assert refused.status_code in (401, 403)
    assert Ticket.objects.count() == 0
