"""Rule 13's throttles at their exact limits: 3 open tickets and 10 messages an hour per
account; one over is `429 rate_limited` with `Retry-After`, changes nothing, and leaves its
evidence (a ThrottleHit row and an audit entry) that staff read before a `support_spam` ban."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from licensary.audit.models import AuditEntry
from licensary.core.errors import RateLimited
from licensary.support.models import Message, ThrottleHit, Ticket
from licensary.support.services import ticket_open
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import api_for
from tests.support.conftest import open_body

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_third_open_ticket_is_taken_and_the_fourth_refused_with_its_evidence(alice):
    api = api_for(alice)
    with time_machine.travel(NOON, tick=False):
        made = [api.post("/tickets", open_body(subject=f"T{i}")) for i in range(3)]
        refused = api.post("/tickets", open_body(subject="The fourth"), REMOTE_ADDR="203.0.113.9")

    assert [m.status_code for m in made] == [201, 201, 201]
    assert (refused.status_code, refused.json_body["code"]) == (429, "rate_limited")
    assert refused["Retry-After"] == "3600"
    assert Ticket.objects.count() == 3
    hit = ThrottleHit.objects.get()
    assert (hit.account, hit.kind, hit.limit, hit.subject, hit.at) == (
        alice,
        "open_tickets",
        3,
        "The fourth",
        NOON,
    )
    assert AuditEntry.objects.filter(action="support.throttled", account_id=alice.pk).count() == 1


@pytest.mark.django_db
def test_closing_a_ticket_makes_room_for_another(alice):
    api = api_for(alice)
    first = [api.post("/tickets", open_body(subject=f"T{i}")).json_body for i in range(3)][0]

    api.post(f"/tickets/{first['id']}/close")
    fourth = api.post("/tickets", open_body(subject="Now it fits"))

    assert fourth.status_code == 201
    assert ThrottleHit.objects.count() == 0


@pytest.mark.django_db
def test_the_tenth_message_of_the_hour_is_taken_and_the_eleventh_refused_until_the_first_ages_out(
    alice,
):
    api = api_for(alice)
    with time_machine.travel(NOON, tick=False) as clock:
        ticket = api.post("/tickets", open_body()).json_body  # message 1
        for i in range(2, 11):
            clock.shift(timedelta(minutes=1))
            sent = api.post(f"/tickets/{ticket['id']}/messages", {"body": f"message {i}"})
            assert sent.status_code == 201, (i, sent.json_body)
        clock.shift(timedelta(minutes=1))  # 12:10
        refused = api.post(f"/tickets/{ticket['id']}/messages", {"body": "the eleventh"})
        clock.move_to(NOON + timedelta(hours=1))  # the first message is exactly an hour old
        later = api.post(f"/tickets/{ticket['id']}/messages", {"body": "after the hour"})

    assert (refused.status_code, refused.json_body["code"]) == (429, "rate_limited")
    assert refused["Retry-After"] == str(50 * 60)  # 12:10 -> 13:00, when the first leaves
    assert later.status_code == 201
    assert Message.objects.count() == 11
    hit = ThrottleHit.objects.get()
    assert (hit.kind, hit.limit, hit.ticket_id, hit.subject) == (
        "messages_per_hour",
        10,
        int(ticket["id"]),
        "the eleventh",
    )


@pytest.mark.django_db
def test_staff_answers_and_notes_do_not_count_towards_the_customers_limit(alice, staff):
    ticket = api_for(alice).post("/tickets", open_body()).json_body
    for i in range(12):
        api_for(staff).post(
            f"/tickets/{ticket['id']}/messages", {"body": f"staff {i}", "internal": i % 2 == 0}
        )

    own = api_for(alice).post(f"/tickets/{ticket['id']}/messages", {"body": "mine"})

    assert own.status_code == 201
    assert ThrottleHit.objects.count() == 0


@pytest.mark.django_db
def test_a_ticket_the_platform_opens_for_a_transfer_is_not_throttled_nor_counted(alice):
    for i in range(3):
        ticket_open(account=alice, department="sales", subject=f"T{i}", body="b", actor=alice)

    transfer = ticket_open(
        account=alice,
        department="transfers",
        subject="Transfer",
        body="b",
        actor=alice,
        throttled=False,
    )

    assert transfer.status == "open"
    with pytest.raises(RateLimited):
        ticket_open(account=alice, department="sales", subject="T4", body="b", actor=alice)


@pytest.mark.django_db
def test_staff_read_the_count_and_the_hits_of_an_account(alice, bob, staff):
    api = api_for(alice)
    for i in range(5):
        api.post("/tickets", open_body(subject=f"T{i}"))

    evidence = api_for(staff).get(f"/accounts/{alice.pk}/support-evidence").json_body
    bobs = api_for(staff).get(f"/accounts/{bob.pk}/support-evidence").json_body
    refused = api_for(alice).get(f"/accounts/{alice.pk}/support-evidence")

    assert (evidence["count"], evidence["open_tickets"], evidence["messages_per_hour"]) == (2, 2, 0)
    assert [h["subject"] for h in evidence["items"]] == ["T4", "T3"]  # newest first
    assert bobs["count"] == 0
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")


@pytest.mark.django_db(transaction=True)
def test_ten_tickets_at_once_open_exactly_three_and_leave_seven_hits(alice):
    require_postgres()

    def open_one(i: int) -> Ticket:
        return ticket_open(
            account=alice, department="technical", subject=f"T{i}", body="b", actor=alice
        )

    results = run_concurrently(open_one, 10)

    refused = errors(results)
    assert len(refused) == 7
    assert all(isinstance(r, RateLimited) for r in refused)
    assert Ticket.objects.count() == 3
    assert ThrottleHit.objects.filter(kind="open_tickets").count() == 7
