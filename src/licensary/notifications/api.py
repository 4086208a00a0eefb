"""Agents' webhook endpoints (Standard Webhooks): register, list, change, test, rotate the
secret, list and replay deliveries. Agents only; staff read; a customer has none."""

from ninja import Router, Status

from licensary.accounts.models import User
from licensary.accounts.policy import require_agent
from licensary.core.api import Cursor, Limit, Page, StatusFilter, paginate, with_status
from licensary.core.http import AuthedRequest
from licensary.core.idempotency import idempotent
from licensary.core.text import Id
from licensary.notifications.schemas import (
    WebhookDeliveryOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    WebhookEndpointSecretOut,
    delivery_out,
    webhook_out,
)
from licensary.notifications.selectors import (
    deliveries_of,
    delivery_get,
    endpoint_get_visible,
    endpoints_visible,
)
from licensary.notifications.services import (
    delivery_replay,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)

router = Router(tags=["webhooks"])
DOING = "manage webhooks"  # staff read them here and act in the console


@router.post(
    "/webhooks",
    response={201: WebhookEndpointSecretOut},
    summary="Agents: register an endpoint for the events named; its secret is in this answer only",
)
@idempotent(sealed=("secret",))
def create_webhook(request: AuthedRequest[User], payload: WebhookEndpointIn) -> Status:
    endpoint, secret = endpoint_create(actor=request.auth, url=payload.url, events=payload.events)
    return Status(201, {**webhook_out(endpoint), "secret": secret})


@router.get(
    "/webhooks", response=Page[WebhookEndpointOut], summary="The agent's endpoints (staff: all)"
)
def list_webhooks(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    return paginate(endpoints_visible(request.auth), limit=limit, cursor=cursor, render=webhook_out)


@router.get("/webhooks/{webhook_id}", response=WebhookEndpointOut)
def get_webhook(request: AuthedRequest[User], webhook_id: Id) -> dict:
    return webhook_out(endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id))


@router.patch(
    "/webhooks/{webhook_id}",
    response=WebhookEndpointOut,
    summary="Change the URL or the events, or enable or disable the endpoint",
)
def update_webhook(
    request: AuthedRequest[User], webhook_id: Id, payload: WebhookEndpointPatch
) -> dict:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    require_agent(request.auth, DOING)
    changes = payload.dict(exclude_unset=True, exclude_none=True)
    return webhook_out(endpoint_update(endpoint=endpoint, actor=request.auth, **changes))


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response=WebhookEndpointSecretOut,
    summary="A new secret (in this answer only); the old one also signs for 24 hours",
)
@idempotent(sealed=("secret",))
def rotate_webhook_secret(request: AuthedRequest[User], webhook_id: Id) -> Status:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    require_agent(request.auth, DOING)
    rotated, secret = endpoint_rotate_secret(endpoint=endpoint, actor=request.auth)
    return Status(200, {**webhook_out(rotated), "secret": secret})


@router.post(
    "/webhooks/{webhook_id}/test",
    response={202: WebhookDeliveryOut},
    summary="Send a webhook.test event to the endpoint now",
)
@idempotent
def test_webhook(request: AuthedRequest[User], webhook_id: Id) -> Status:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    require_agent(request.auth, DOING)
    message = endpoint_test(endpoint=endpoint, actor=request.auth)
    return Status(202, delivery_out(message))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response=Page[WebhookDeliveryOut],
    summary="The endpoint's deliveries, newest first, each with its attempts",
)
def list_deliveries(
    request: AuthedRequest[User],
    webhook_id: Id,
    status: StatusFilter | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> dict:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    qs = with_status(deliveries_of(endpoint), status)
    return paginate(qs, limit=limit, cursor=cursor, render=delivery_out)


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}", response=WebhookDeliveryOut)
def get_delivery(request: AuthedRequest[User], webhook_id: Id, delivery_id: Id) -> dict:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    return delivery_out(delivery_get(endpoint=endpoint, delivery_id=delivery_id))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    response={202: WebhookDeliveryOut},
    summary="Send the delivery again now, with the same webhook-id",
)
@idempotent
def replay_delivery(request: AuthedRequest[User], webhook_id: Id, delivery_id: Id) -> Status:
    endpoint = endpoint_get_visible(actor=request.auth, endpoint_id=webhook_id)
    require_agent(request.auth, DOING)
    message = delivery_get(endpoint=endpoint, delivery_id=delivery_id)
    return Status(202, delivery_out(delivery_replay(message=message, actor=request.auth)))
