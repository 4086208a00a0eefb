"""The POST is made by a job after the event commits, never inside a transaction; an attempt
is claimed once however many workers try (PostgreSQL); a worker that dies mid-attempt leaves a
message another run of its job sends; each attempt's outcome is recorded in its own
transaction."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.db import connection, transaction

from licensary.accounts.models import User
from licensary.jobs.models import DeadJob
from licensary.notifications.models import WebhookMessage
from licensary.notifications.sending import Claim, attempt_claim
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import Api, api_for, run_jobs
from tests.notifications.conftest import deliveries, register
from tests.notifications.receiver import Receiver


@pytest.mark.django_db(transaction=True)
def test_the_post_is_made_outside_any_transaction(
    carol: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    carol_api = api_for(carol)
    webhook = register(carol_api, receiver.url)
    in_transaction: list[bool] = []
    real_send = httpx.Client.send

    def watched_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", watched_send)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    assert receiver.requests == []  # the request only queued it

    run_jobs()

    assert in_transaction == [False]
    assert len(receiver.requests) == 1
    assert deliveries(carol_api, webhook)[0]["status"] == "succeeded"


def test_a_worker_that_died_mid_attempt_leaves_the_message_to_its_job_s_next_run(
    carol_api: Api, receiver: Receiver, clock: time_machine.Traveller
) -> None:
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    message = WebhookMessage.objects.get()
    # A worker claims the first attempt and dies before it sends anything.
    assert attempt_claim(message_id=message.pk) is not None

    run_jobs()  # its job meets the message in flight: it fails, to be retried (10 s)
    clock.shift(10)
    run_jobs()  # still in flight (30 s): retried again (40 s)
    assert receiver.requests == []
    clock.shift(40)
    run_jobs()  # the flight is over: attempt 2 goes

    [request] = receiver.requests
    assert request.headers["webhook-id"] == message.webhook_id
    [delivery] = deliveries(carol_api, webhook)
    assert delivery["status"] == "succeeded"
    assert [a["number"] for a in delivery["attempts"]] == [2]
    assert not DeadJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_one_attempt_of_a_message(carol: User, private_ips: None) -> None:
    require_postgres()
    carol_api = api_for(carol)
    webhook = register(carol_api, "http://127.0.0.1:9/never")
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    message = WebhookMessage.objects.get()

    def claim(_: int) -> Claim | None:
        with transaction.atomic():
            return attempt_claim(message_id=message.pk)

    results = run_concurrently(claim, 8)

    assert errors(results) == []
    assert len([r for r in results if r is not None]) == 1
    message.refresh_from_db()
    assert message.attempt_count == 1
    assert message.next_attempt_at is not None
    assert message.next_attempt_at - message.window_started_at == timedelta(seconds=30)
