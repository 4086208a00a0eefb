"""A receiver written from the Standard Webhooks specification alone verifies what we send,
and so does the specification's own library (`standardwebhooks.Webhook.verify`).

The specification, as a receiver reads it: the signed content is
`{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64-decoded part of the secret
after `whsec_`; the signature is base64 HMAC-SHA256, sent in `webhook-signature` as `v1,<sig>`,
space-separated when there are several; compare in constant time; refuse a timestamp more
than a few minutes away from now."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from licensary.accounts.models import User
from licensary.catalog.models import Product
from tests.api.support import unpaid_order
from tests.helpers import PUBLIC_IP, Api, run_jobs
from tests.notifications.conftest import register
from tests.notifications.receiver import Received, Receiver


def verified_by_hand(secret: str, request: Received, *, tolerance: int = 300) -> bool:
    """The receiver of the specification, with nothing but the standard library."""
    msg_id = request.headers["webhook-id"]
    stamp = request.headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{stamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for versioned in request.headers["webhook-signature"].split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


def test_a_receiver_written_from_the_specification_verifies_our_signature(
    carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    assert carol_api.post(f"/webhooks/{webhook['id']}/test").status_code == 202

    run_jobs()

    [request] = receiver.requests
    assert request.path == "/hooks/licensary"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-timestamp"].isdigit()
    assert request.headers["webhook-signature"].startswith("v1,")
    assert " " not in request.headers["webhook-signature"]  # one secret: one signature
    assert verified_by_hand(webhook["secret"], request)
    assert Webhook(webhook["secret"]).verify(request.body, request.headers) == json.loads(
        request.body
    )


def test_a_body_changed_on_the_way_or_another_secret_fails_both_receivers(
    carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    [request] = receiver.requests
    tampered = Received(request.path, request.headers, request.body.replace(b"test", b"tost"))
    other_secret = "whsec_" + base64.b64encode(b"k" * 32).decode()

    assert not verified_by_hand(webhook["secret"], tampered)
    assert not verified_by_hand(other_secret, request)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook["secret"]).verify(tampered.body, tampered.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(request.body, request.headers)


def test_an_event_is_a_post_of_type_timestamp_and_the_object_as_the_api_shows_it(
    carol: User, dave: User, product: Product, carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url, ["invoice.issued"])

    order = unpaid_order(dave, product, PUBLIC_IP, actor=carol)
    run_jobs()

    [request] = receiver.requests
    payload = Webhook(webhook["secret"]).verify(request.body, request.headers)
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "invoice.issued"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == carol_api.get(f"/invoices/{order.invoice_id}").json_body
    assert payload["data"]["total"] == {"amount": 1500, "currency": "USD"}


def test_the_secret_is_shown_once_and_is_a_standard_webhooks_secret(carol_api: Api) -> None:
    webhook = register(carol_api, "https://93.184.216.34/hooks")

    key = base64.b64decode(webhook["secret"].removeprefix("whsec_"))
    listed: dict[str, Any] = carol_api.get("/webhooks").json_body["items"][0]
    shown = carol_api.get(f"/webhooks/{webhook['id']}").json_body

    assert webhook["secret"].startswith("whsec_") and len(key) == 32
    assert "secret" not in listed and "secret" not in shown
    assert listed["id"] == shown["id"] == webhook["id"]
    assert (shown["url"], shown["status"]) == ("https://93.184.216.34/hooks", "enabled")
