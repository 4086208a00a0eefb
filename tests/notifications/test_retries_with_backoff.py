"""Each delivery is retried with backoff while the receiver fails, with the same `webhook-id`
on every attempt, for 24 hours; each attempt is logged; an endpoint that has failed for 3 days
without a success is disabled and its agent told."""

from datetime import timedelta

import time_machine
from django.core import mail

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.notifications.models import WebhookMessage
from tests.helpers import Api, run_jobs
from tests.notifications.conftest import deliveries, register
from tests.notifications.receiver import Receiver

# The waits of the Standard Webhooks schedule after each failure: 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h; the last attempt comes at 24 h from the first.
WAITS = [5, 300, 1800, 7200, 18000, 36000]


def test_a_receiver_that_fails_three_times_then_succeeds_gets_the_event_once_with_one_id(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    receiver.script = [500, 503, 404]
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")

    run_jobs()  # the first attempt, at once: 500
    for wait in WAITS[:3]:
        clock.shift(wait - 1)
        run_jobs()  # a second early: not yet
        clock.shift(1)
        run_jobs()
    run_jobs()  # nothing more to do

    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    [delivery] = deliveries(carol_api, webhook)
    assert delivery["webhook_id"] == receiver.requests[0].headers["webhook-id"]
    assert (delivery["status"], delivery["last_status_code"]) == ("succeeded", 200)
    assert delivery["next_attempt_at"] is None
    attempts = delivery["attempts"]
    assert [(a["number"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 404, "failed"),
        (4, 200, "succeeded"),
    ]
    assert all(a["response"] == '{"ok": true}' for a in attempts)
    assert all(isinstance(a["latency_ms"], int) and a["latency_ms"] >= 0 for a in attempts)
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert [b - a for a, b in zip(stamps, stamps[1:], strict=False)] == WAITS[:3]
    # Once settled, the endpoint counts no failure.
    assert carol_api.get(f"/webhooks/{webhook['id']}").json_body["failing_since"] is None


def test_a_receiver_that_never_answers_2xx_is_tried_for_24_hours_then_given_up(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    receiver.script = [500] * 20
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")

    run_jobs()
    for _ in range(20):  # to each next attempt, as scheduled
        message = WebhookMessage.objects.get()
        if message.next_attempt_at is None:
            break
        clock.move_to(message.next_attempt_at)
        run_jobs()

    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    offsets = [s - stamps[0] for s in stamps]
    assert offsets == [0, 5, 305, 2105, 9305, 27305, 63305, 86400]
    [delivery] = deliveries(carol_api, webhook)
    assert (delivery["status"], delivery["next_attempt_at"]) == ("failed", None)
    assert len(delivery["attempts"]) == 8
    # Failing for a day is not yet three: still enabled.
    assert carol_api.get(f"/webhooks/{webhook['id']}").json_body["status"] == "enabled"


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_agent_told(
    carol: User, carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    receiver.script = [500] * 100
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    first_failure = carol_api.get(f"/webhooks/{webhook['id']}").json_body["failing_since"]

    for day in range(1, 4):
        clock.shift(timedelta(days=1))
        run_jobs()
        carol_api.post(f"/webhooks/{webhook['id']}/test")
        run_jobs()
        shown = carol_api.get(f"/webhooks/{webhook['id']}").json_body
        assert shown["failing_since"] == first_failure
        assert shown["status"] == ("disabled" if day == 3 else "enabled"), day

    assert shown["disabled_at"] is not None
    assert "3 days without a success" in shown["disabled_reason"]
    [told] = mail.outbox
    assert told.to == [carol.email]
    assert receiver.url in told.subject
    assert "PATCH /api/v1/webhooks/" in told.body
    entry = AuditEntry.objects.get(action="webhook.disabled")
    assert (entry.object_id, entry.actor_label, entry.account_id) == (
        webhook["id"],
        "system:webhooks",
        carol.pk,
    )
    # Disabled: nothing more is tried, pending messages end failed, and no test is accepted.
    sent = len(receiver.requests)
    clock.shift(timedelta(days=1))
    run_jobs()
    assert len(receiver.requests) == sent
    assert not WebhookMessage.objects.filter(status="pending").exists()
    refused = carol_api.post(f"/webhooks/{webhook['id']}/test")
    assert (refused.status_code, refused.json_body["code"]) == (409, "invalid_transition")


def test_enabling_a_disabled_endpoint_starts_it_afresh(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    receiver.script = [500]
    webhook = register(carol_api, receiver.url)
    carol_api.patch(f"/webhooks/{webhook['id']}", {"status": "disabled"})

    enabled = carol_api.patch(f"/webhooks/{webhook['id']}", {"status": "enabled"})
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    clock.shift(5)
    run_jobs()

    assert enabled.status_code == 200, enabled.json_body
    assert (enabled.json_body["status"], enabled.json_body["disabled_at"]) == ("enabled", None)
    assert [d["status"] for d in deliveries(carol_api, webhook)] == ["succeeded"]
    assert carol_api.get(f"/webhooks/{webhook['id']}").json_body["failing_since"] is None
