"""Reads of agents' webhook endpoints and their deliveries, narrowed to what the caller may see:
an agent its own, staff everything, a customer nothing (it has no webhooks)."""

from django.db.models import QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import is_staff, require_agent
from licensary.core.api import get_visible
from licensary.notifications.models import WebhookEndpoint, WebhookMessage


def endpoints_visible(actor: User) -> QuerySet[WebhookEndpoint]:
    """Every endpoint for staff, an agent's own; `permission_denied` for anyone else."""
    if is_staff(actor):
        return WebhookEndpoint.objects.all()
    return WebhookEndpoint.objects.filter(agent=require_agent(actor, "have webhooks"))


def endpoint_get_visible(*, actor: User, endpoint_id: object) -> WebhookEndpoint:
    endpoint: WebhookEndpoint = get_visible(endpoints_visible(actor), endpoint_id)
    return endpoint


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[WebhookMessage]:
    """The endpoint's messages with their attempts (one prefetch for a page)."""
    return WebhookMessage.objects.filter(endpoint=endpoint).prefetch_related("attempts")


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: object) -> WebhookMessage:
    message: WebhookMessage = get_visible(deliveries_of(endpoint), delivery_id)
    message.endpoint = endpoint
    return message
