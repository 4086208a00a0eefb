"""An agent registers endpoints with the events it wants; only agents have webhooks (staff
read them); a target on a private or loopback address, or not https, is refused unless
LICENSARY_ALLOW_PRIVATE_IPS, when it is registered and again at every attempt (no SSRF)."""

import socket
from typing import Any

import pytest

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.notifications import targets
from licensary.notifications.models import WebhookAttempt, WebhookEndpoint
from tests.api.support import snapshot
from tests.helpers import Api, api_for, refusal, run_jobs
from tests.notifications.conftest import deliveries, register
from tests.notifications.receiver import Receiver

PUBLIC = "https://93.184.216.34/hooks"


def test_an_agent_registers_an_endpoint_for_the_events_it_names(
    carol: User, carol_api: Api
) -> None:
    made = carol_api.post(
        "/webhooks",
        {"url": PUBLIC, "events": ["license.blocked", "transfer.*", "license.blocked"]},
    )

    assert made.status_code == 201, made.json_body
    body = made.json_body
    assert (body["url"], body["status"]) == (PUBLIC, "enabled")
    assert body["events"] == ["license.blocked", "transfer.*"]  # each once, in order
    assert (body["failing_since"], body["disabled_at"]) == (None, None)
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.agent == carol
    assert body["secret"] not in endpoint.secret_sealed  # sealed at rest
    entry = AuditEntry.objects.get(action="webhook.created")
    assert (entry.actor_id, entry.account_id, entry.object_id) == (carol.pk, carol.pk, body["id"])
    assert "whsec_" not in str(entry.after)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hooks",
        "https://192.168.1.10/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",  # a name that resolves to loopback
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fd00::1]/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "http://93.184.216.34/hooks",  # not https
        "ftp://93.184.216.34/hooks",
        "https://user:secret@93.184.216.34/hooks",
        "https:///hooks",
        "https://93.184.216.34:99999/hooks",
    ],
)
def test_a_target_that_is_not_public_https_is_refused_and_nothing_is_made(
    carol_api: Api, url: str
) -> None:
    before = snapshot()

    refused = carol_api.post("/webhooks", {"url": url, "events": ["invoice.paid"]})

    assert (refused.status_code, refused.json_body["code"]) == (422, "url_not_allowed"), url
    assert snapshot() == before


def test_a_name_that_does_not_resolve_is_refused(
    carol_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(targets, "resolve", no_such_name)

    refused = carol_api.post(
        "/webhooks", {"url": "https://hooks.agent.test/", "events": ["invoice.paid"]}
    )

    assert (refused.status_code, refused.json_body["code"]) == (422, "url_not_allowed")
    assert refused.json_body["detail"] == "hooks.agent.test cannot be resolved."


def test_with_private_addresses_allowed_a_local_http_receiver_is_accepted(
    carol_api: Api, private_ips: None
) -> None:
    for url in ("http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://[::1]/hooks"):
        made = carol_api.post("/webhooks", {"url": url, "events": ["invoice.paid"]})
        assert made.status_code == 201, (url, made.json_body)
    refused = carol_api.post("/webhooks", {"url": "http://0.0.0.0/x", "events": ["invoice.paid"]})
    assert (refused.status_code, refused.json_body["code"]) == (422, "url_not_allowed")


def test_a_name_that_resolves_elsewhere_by_the_time_of_an_attempt_is_refused_then(
    carol_api: Api, receiver: Receiver, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when registered, loopback when sent. The check runs again before
    each attempt, which then fails without connecting anywhere."""
    settings.LICENSARY = {**settings.LICENSARY, "ALLOW_PRIVATE_IPS": False}
    port = receiver.server.server_address[1]
    answers = {"hooks.agent.test": ["93.184.216.34"]}
    monkeypatch.setattr(targets, "resolve", lambda host, port: answers[host])
    webhook = register(carol_api, f"https://hooks.agent.test:{port}/x")

    answers["hooks.agent.test"] = ["93.184.216.34", "127.0.0.1"]
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()

    assert receiver.requests == []
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.outcome) == (None, "failed")
    assert (
        attempt.error == "refused: hooks.agent.test resolves to 127.0.0.1 is not a public address."
    )


def test_an_attempt_connects_to_the_checked_address_and_keeps_the_name_for_host(
    carol_api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = receiver.server.server_address[1]
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["127.0.0.1"])
    webhook = register(carol_api, f"http://hooks.agent.test:{port}/x")

    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()

    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.agent.test:{port}"
    assert deliveries(carol_api, webhook)[0]["status"] == "succeeded"


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    carol_api: Api, receiver: Receiver
) -> None:
    receiver.script = [302]
    webhook = register(carol_api, receiver.url)

    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()

    assert len(receiver.requests) == 1
    [delivery] = deliveries(carol_api, webhook)
    assert (delivery["status"], delivery["attempts"][0]["status_code"]) == ("pending", 302)


@pytest.mark.parametrize(
    "events", [[], ["invoice.refunded"], ["order.*"], ["*"], ["license.blocked", "nope"]]
)
def test_events_are_the_known_types_or_their_wildcards(carol_api: Api, events: list[str]) -> None:
    refused = carol_api.post("/webhooks", {"url": PUBLIC, "events": events})

    assert (refused.status_code, refused.json_body["code"]) == (422, "validation_error")
    assert not WebhookEndpoint.objects.exists()


def test_only_agents_register_webhooks_and_staff_read_every_one(
    alice: User, dave: User, staff: User, carol_api: Api, erin: User
) -> None:
    webhook = register(carol_api, PUBLIC)
    register(api_for(erin), PUBLIC)

    for customer in (alice, dave):
        api = api_for(customer)
        for answer in (
            api.post("/webhooks", {"url": PUBLIC, "events": ["invoice.paid"]}),
            api.get("/webhooks"),
            api.get(f"/webhooks/{webhook['id']}"),
        ):
            assert (answer.status_code, answer.json_body["code"]) == (403, "permission_denied")
    staff_api = api_for(staff)
    made = staff_api.post("/webhooks", {"url": PUBLIC, "events": ["invoice.paid"]})
    assert (made.status_code, made.json_body["code"]) == (403, "permission_denied")
    assert len(staff_api.get("/webhooks").json_body["items"]) == 2
    assert staff_api.get(f"/webhooks/{webhook['id']}").status_code == 200
    rotate = staff_api.post(f"/webhooks/{webhook['id']}/rotate-secret")
    assert (rotate.status_code, rotate.json_body["code"]) == (403, "permission_denied")
    # Another agent's endpoint is not found, as a made-up one is.
    erin_api = api_for(erin)
    assert [w["id"] for w in carol_api.get("/webhooks").json_body["items"]] == [webhook["id"]]
    for path in (f"/webhooks/{webhook['id']}", f"/webhooks/{webhook['id']}/deliveries"):
        theirs, made_up = erin_api.get(path), erin_api.get(path.replace(webhook["id"], "98765"))
        assert (theirs.status_code, refusal(theirs)) == (404, refusal(made_up))


def test_a_registration_replayed_with_its_key_is_one_endpoint_with_the_same_secret(
    carol_api: Api,
) -> None:
    body = {"url": PUBLIC, "events": ["invoice.paid"]}

    first = carol_api.post("/webhooks", body, **{"Idempotency-Key": "hook-1"})
    again = carol_api.post("/webhooks", body, **{"Idempotency-Key": "hook-1"})
    other = carol_api.post(
        "/webhooks", {**body, "events": ["invoice.issued"]}, **{"Idempotency-Key": "hook-1"}
    )

    assert first.status_code == again.status_code == 201
    assert again.json_body == first.json_body
    assert (other.status_code, other.json_body["code"]) == (409, "idempotency_conflict")
    assert WebhookEndpoint.objects.count() == 1


def test_an_agent_has_at_most_ten_endpoints(carol_api: Api) -> None:
    for _ in range(10):
        register(carol_api, PUBLIC)

    refused = carol_api.post("/webhooks", {"url": PUBLIC, "events": ["invoice.paid"]})

    assert (refused.status_code, refused.json_body["code"]) == (409, "webhook_limit")
    assert WebhookEndpoint.objects.count() == 10


def test_an_agent_changes_its_endpoint_s_url_and_events(carol_api: Api) -> None:
    webhook = register(carol_api, PUBLIC)

    changed = carol_api.patch(
        f"/webhooks/{webhook['id']}",
        {"url": "https://93.184.216.35/new", "events": ["license.deleted"]},
    )
    refused = carol_api.patch(f"/webhooks/{webhook['id']}", {"url": "https://10.1.1.1/"})

    assert changed.status_code == 200, changed.json_body
    assert (changed.json_body["url"], changed.json_body["events"]) == (
        "https://93.184.216.35/new",
        ["license.deleted"],
    )
    assert (refused.status_code, refused.json_body["code"]) == (422, "url_not_allowed")
    entry = AuditEntry.objects.get(action="webhook.updated")
    assert entry.before == {"url": PUBLIC, "events": webhook["events"]}
