"""Events about an object of an account whose agent is A (or of A itself) go to A's enabled
endpoints subscribed to that type, with the object as the API shows it when it happened; in
the event's own transaction, so a change rolled back sends nothing."""

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.catalog.models import Product
from licensary.governance.claims import claim_open
from licensary.governance.transfers import transfer_request
from licensary.licenses.models import License
from licensary.licenses.services import license_change_ip
from licensary.licenses.sweep import sweep
from licensary.notifications.models import WebhookMessage
from licensary.orders.services import order_create
from tests.api.support import delivered_order, held_order
from tests.helpers import OTHER_IP, PUBLIC_IP, Api, api_for, run_jobs
from tests.notifications.conftest import register
from tests.notifications.receiver import Receiver

PUBLIC = "https://93.184.216.34/hooks"


def sent(webhook: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, object id) of each message queued for the endpoint, oldest first."""
    return list(
        WebhookMessage.objects.filter(endpoint_id=webhook["id"])
        .order_by("pk")
        .values_list("event_type", "object_id")
    )


def test_an_agent_s_endpoint_gets_the_subscribed_events_of_its_customers_only(
    carol_api: Api, dave: User, alice: User, erin: User, frank: User, staff: User, product: Product
) -> None:
    carol_hook = register(carol_api, PUBLIC, ["order.completed", "license.ip_changed"])
    erin_hook = register(api_for(erin), PUBLIC, ["order.completed"])

    dave_order = delivered_order(dave, product, PUBLIC_IP, staff)
    delivered_order(alice, product, OTHER_IP, staff)  # no agent: nobody's webhook
    license_change_ip(
        license=License.objects.get(pk=dave_order.license_id), ip="93.184.216.77", actor=dave
    )

    assert sent(carol_hook) == [
        ("order.completed", str(dave_order.pk)),
        ("license.ip_changed", str(dave_order.license_id)),
    ]
    assert sent(erin_hook) == []


def test_the_data_is_the_object_as_the_api_showed_it_when_the_event_happened(
    carol_api: Api, dave: User, staff: User, product: Product
) -> None:
    register(carol_api, PUBLIC, ["order.completed", "order.on_hold"])

    held = held_order(dave, product, PUBLIC_IP, staff)
    shown_held = carol_api.get(f"/orders/{held.pk}").json_body
    done = delivered_order(dave, product, OTHER_IP, staff)
    shown_done = carol_api.get(f"/orders/{done.pk}").json_body

    on_hold = WebhookMessage.objects.get(event_type="order.on_hold", object_id=str(held.pk))
    completed = WebhookMessage.objects.get(event_type="order.completed", object_id=str(done.pk))

    assert json.loads(on_hold.body)["data"] == shown_held
    assert shown_held["status"] == "on_hold" and shown_held["hold_reason"] == "supplier_unavailable"
    assert json.loads(completed.body)["data"] == shown_done


def test_the_agent_s_own_objects_go_to_its_endpoints(
    carol: User, carol_api: Api, product: Product
) -> None:
    webhook = register(carol_api, PUBLIC, ["invoice.issued"])

    order = order_create(actor=carol, product=product, ip=PUBLIC_IP, account=carol)

    assert sent(webhook) == [("invoice.issued", str(order.invoice_id))]


def test_a_disabled_endpoint_or_an_unsubscribed_type_gets_nothing(
    carol_api: Api, dave: User, staff: User, product: Product
) -> None:
    disabled = register(carol_api, PUBLIC, ["order.completed"])
    carol_api.patch(f"/webhooks/{disabled['id']}", {"status": "disabled"})
    other_type = register(carol_api, PUBLIC, ["license.deleted"])

    delivered_order(dave, product, PUBLIC_IP, staff)

    assert sent(disabled) == [] and sent(other_type) == []


def test_a_change_rolled_back_queues_no_message_and_no_job(
    carol: User, carol_api: Api, dave: User, product: Product
) -> None:
    register(carol_api, PUBLIC, ["invoice.issued"])
    jobs = DBTaskResult.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        order_create(actor=carol, product=product, ip=PUBLIC_IP, account=dave)
        assert WebhookMessage.objects.count() == 1  # queued in the event's transaction
        raise RuntimeError("the change fails after the event")

    assert WebhookMessage.objects.count() == 0
    assert DBTaskResult.objects.count() == jobs


def test_a_sweep_batch_makes_one_message_per_license_for_each_agent(
    carol_api: Api,
    dave: User,
    alice: User,
    erin: User,
    frank: User,
    staff: User,
    product: Product,
    receiver: Receiver,
) -> None:
    carol_hook = register(carol_api, receiver.url, ["license.blocked"])
    erin_hook = register(api_for(erin), receiver.url, ["license.blocked", "license.canceled"])
    dave_licenses = [
        delivered_order(dave, product, f"93.184.216.{n}", staff).license_id for n in (1, 2, 3)
    ]
    frank_license = delivered_order(frank, product, "93.184.216.4", staff).license_id
    delivered_order(alice, product, "93.184.216.5", staff)
    receiver.requests.clear()

    with time_machine.travel(timedelta(days=31)):
        report = sweep()
        run_jobs()

    assert report.counts["block"] == 5
    assert sorted(sent(carol_hook)) == [
        ("license.blocked", str(pk)) for pk in sorted(dave_licenses)
    ]
    assert sent(erin_hook) == [("license.blocked", str(frank_license))]
    assert len(receiver.requests) == 4
    assert {r.headers["webhook-id"] for r in receiver.requests} == set(
        WebhookMessage.objects.values_list("webhook_id", flat=True)
    )


def test_a_transfer_goes_to_both_sides_agents_as_the_api_shows_it(
    carol_api: Api, dave: User, erin: User, frank: User, staff: User, product: Product
) -> None:
    carol_hook = register(carol_api, PUBLIC, ["transfer.*"])
    erin_api = api_for(erin)
    erin_hook = register(erin_api, PUBLIC, ["transfer.*"])
    lic = License.objects.get(pk=delivered_order(dave, product, PUBLIC_IP, staff).license_id)

    transfer = transfer_request(license=lic, to_account=frank, actor=dave)

    assert sent(carol_hook) == [("transfer.requested", str(transfer.pk))]
    assert sent(erin_hook) == [("transfer.requested", str(transfer.pk))]
    body = json.loads(WebhookMessage.objects.filter(endpoint_id=carol_hook["id"]).get().body)
    assert body["data"] == carol_api.get(f"/transfers/{transfer.pk}").json_body
    assert body["data"]["status"] == "pending"


def test_a_claim_goes_to_the_claimant_s_agent_and_the_owner_s_never_with_the_challenge(
    carol_api: Api, dave: User, erin: User, frank: User, staff: User, product: Product
) -> None:
    owner_side = register(carol_api, PUBLIC, ["claim.*"])
    claimant_side = register(api_for(erin), PUBLIC, ["claim.*"])
    delivered_order(dave, product, PUBLIC_IP, staff)

    claim = claim_open(product=product, ip=PUBLIC_IP, actor=frank)

    assert sent(owner_side) == [("claim.opened", str(claim.pk))]
    assert sent(claimant_side) == [("claim.opened", str(claim.pk))]
    for message in WebhookMessage.objects.all():
        data = json.loads(message.body)["data"]
        assert (data["id"], data["status"], data["claimant"]) == (
            str(claim.pk),
            "awaiting_owner",
            str(frank.pk),
        )
        assert data["challenge"] is None and data["challenge_expires_at"] is None
        assert claim.challenge not in message.body


def test_an_event_of_a_type_without_a_source_carries_its_audit_entry(
    carol_api: Api, dave: User, alice: User
) -> None:
    """Whatever else is announced under `transfer.` or `claim.` reaches the endpoints of the
    wildcard, with its audit entry's `after` as data."""
    wildcard = register(carol_api, PUBLIC, ["transfer.*"])

    record(
        Change(
            action="transfer.noted",
            object_type="transfer_note",
            object_id=41,
            actor=dave,
            account_id=dave.pk,
            after={"license": "7", "note": "seen"},
        )
    )

    [message] = WebhookMessage.objects.filter(endpoint_id=wildcard["id"])
    body = json.loads(message.body)
    assert body["type"] == "transfer.noted"
    assert body["data"] == {"id": "41", "license": "7", "note": "seen"}
