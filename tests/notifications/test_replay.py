"""An agent replays a delivery: it goes again now, with the same `webhook-id` and body,
whether it succeeded or gave up; retried afresh if it fails again."""

import time_machine
from standardwebhooks import Webhook

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.notifications.models import WebhookMessage
from tests.helpers import Api, api_for, run_jobs
from tests.notifications.conftest import deliveries, register
from tests.notifications.receiver import Receiver


def test_a_replayed_delivery_goes_again_with_the_same_webhook_id_and_body(
    carol: User, carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    [delivery] = deliveries(carol_api, webhook)

    replayed = carol_api.post(f"/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay")
    run_jobs()

    assert replayed.status_code == 202, replayed.json_body
    assert (replayed.json_body["id"], replayed.json_body["status"]) == (delivery["id"], "pending")
    first, again = receiver.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == delivery["webhook_id"]
    assert again.body == first.body
    Webhook(webhook["secret"]).verify(again.body, again.headers)
    [after] = deliveries(carol_api, webhook)
    assert after["status"] == "succeeded"
    assert [a["number"] for a in after["attempts"]] == [1, 2]
    entry = AuditEntry.objects.get(action="webhook.delivery_replayed")
    assert (entry.actor_id, entry.after["webhook_id"]) == (carol.pk, delivery["webhook_id"])


def test_a_delivery_that_gave_up_is_replayed_and_retried_for_another_day(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    receiver.script = [500] * 50
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    for _ in range(8):  # to each next attempt, as scheduled, for 24 hours
        clock.move_to(WebhookMessage.objects.get().next_attempt_at)
        run_jobs()
    [delivery] = deliveries(carol_api, webhook)
    assert (delivery["status"], len(delivery["attempts"])) == ("failed", 8)
    tried = len(receiver.requests)
    receiver.script = [500]

    carol_api.post(f"/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay")
    run_jobs()  # the replay: 500 again, so it is tried again in 5 seconds
    clock.shift(5)
    run_jobs()  # 200

    assert len(receiver.requests) == tried + 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery["webhook_id"]}
    [after] = deliveries(carol_api, webhook)
    assert (after["status"], after["attempts"][-1]["outcome"]) == ("succeeded", "succeeded")


def test_replaying_another_agent_s_delivery_is_not_found_and_sends_nothing(
    carol_api: Api, erin: User, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    [delivery] = deliveries(carol_api, webhook)

    answer = api_for(erin).post(f"/webhooks/{webhook['id']}/deliveries/{delivery['id']}/replay")
    run_jobs()

    assert (answer.status_code, answer.json_body["code"]) == (404, "not_found")
    assert len(receiver.requests) == 1
