"""Rotating an endpoint's secret: the new secret is shown once and signs from now on; the old
one signs beside it for 24 hours (two `v1,` signatures in one header), then no more."""

from datetime import timedelta

import pytest
import time_machine
from standardwebhooks import Webhook, WebhookVerificationError

from licensary.core.models import IdempotencyRecord
from tests.helpers import Api, run_jobs
from tests.notifications.conftest import register
from tests.notifications.receiver import Receiver
from tests.notifications.test_receivers_verify_our_signature import verified_by_hand


def test_after_a_rotation_old_and_new_secrets_both_verify_for_24_hours_then_only_the_new(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    webhook = register(carol_api, receiver.url)
    old = webhook["secret"]

    rotated = carol_api.post(f"/webhooks/{webhook['id']}/rotate-secret")
    new = rotated.json_body["secret"]
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    [during] = receiver.requests

    assert rotated.status_code == 200, rotated.json_body
    assert new.startswith("whsec_") and new != old
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert verified_by_hand(secret, during)
        Webhook(secret).verify(during.body, during.headers)

    clock.shift(timedelta(hours=24))
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    after = receiver.requests[1]

    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verified_by_hand(new, after) and not verified_by_hand(old, after)
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    shown = carol_api.get(f"/webhooks/{webhook['id']}").json_body
    assert "secret" not in shown


def test_a_second_rotation_within_the_day_drops_the_oldest_secret(
    carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    first = webhook["secret"]
    second = carol_api.post(f"/webhooks/{webhook['id']}/rotate-secret").json_body["secret"]
    third = carol_api.post(f"/webhooks/{webhook['id']}/rotate-secret").json_body["secret"]

    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()

    [request] = receiver.requests
    assert verified_by_hand(third, request) and verified_by_hand(second, request)
    assert not verified_by_hand(first, request)


def test_a_rotation_replayed_with_its_key_shows_the_same_secret_kept_sealed(
    carol_api: Api,
) -> None:
    webhook = register(carol_api, "https://93.184.216.34/hooks")
    path = f"/webhooks/{webhook['id']}/rotate-secret"

    first = carol_api.post(path, **{"Idempotency-Key": "rotate-1"})
    again = carol_api.post(path, **{"Idempotency-Key": "rotate-1"})

    assert first.status_code == again.status_code == 200
    assert again.json_body == first.json_body
    stored = IdempotencyRecord.objects.get(key="rotate-1").body
    assert stored["secret"] != first.json_body["secret"]
    assert "whsec_" not in str(stored)
