"""Staff see agents' endpoints and deliveries in the console (read-only, secrets never shown)
and enable, disable and replay through the same services the API calls."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.notifications.models import WebhookEndpoint, WebhookMessage
from tests.helpers import Api, run_jobs
from tests.notifications.conftest import register
from tests.notifications.receiver import Receiver


@pytest.fixture
def root(db: Any) -> User:
    return User.objects.create_superuser(email="root@staff.test", password="x" * 16)


@pytest.fixture
def console(root: User) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_staff_disable_and_enable_an_endpoint_in_the_console_audited(
    console: Client, root: User, carol: User, carol_api: Api
) -> None:
    webhook = register(carol_api, "https://93.184.216.34/hooks")
    url = "/admin/notifications/webhookendpoint/"

    disabled = console.post(url, {"action": "disable", "_selected_action": [webhook["id"]]})
    endpoint = WebhookEndpoint.objects.get()
    assert (disabled.status_code, endpoint.status) == (302, "disabled")
    assert endpoint.disabled_reason == "disabled by staff"
    console.post(url, {"action": "enable", "_selected_action": [webhook["id"]]})

    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_at) == ("enabled", None)
    entries = AuditEntry.objects.filter(action="webhook.updated").order_by("pk")
    assert [(e.actor_id, e.account_id, e.after) for e in entries] == [
        (root.pk, carol.pk, {"status": "disabled"}),
        (root.pk, carol.pk, {"status": "enabled"}),
    ]


def test_the_console_shows_an_endpoint_without_its_secret_and_changes_nothing(
    console: Client, carol_api: Api
) -> None:
    webhook = register(carol_api, "https://93.184.216.34/hooks")
    page = f"/admin/notifications/webhookendpoint/{webhook['id']}/change/"

    viewed = console.get(page)
    changed = console.post(page, {"url": "https://93.184.216.35/", "status": "disabled"})

    assert viewed.status_code == 200
    assert webhook["secret"].encode() not in viewed.content
    assert b"secret_sealed" not in viewed.content
    assert changed.status_code == 403
    assert WebhookEndpoint.objects.get().url == "https://93.184.216.34/hooks"


def test_staff_replay_a_delivery_in_the_console(
    console: Client, root: User, carol_api: Api, receiver: Receiver
) -> None:
    webhook = register(carol_api, receiver.url)
    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()
    message = WebhookMessage.objects.get()

    replayed = console.post(
        "/admin/notifications/webhookmessage/",
        {"action": "replay", "_selected_action": [message.pk]},
    )
    run_jobs()

    assert replayed.status_code == 302
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.webhook_id] * 2
    entry = AuditEntry.objects.get(action="webhook.delivery_replayed")
    assert entry.actor_id == root.pk
    assert (
        console.get(f"/admin/notifications/webhookmessage/{message.pk}/change/").status_code == 200
    )
