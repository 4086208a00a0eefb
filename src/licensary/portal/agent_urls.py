"""The agent panel's pages (agent_views), under /portal/agent/: agent accounts only."""

from django.urls import path

from licensary.portal import agent_views

urlpatterns = [
    path("", agent_views.dashboard, name="agent-dashboard"),
    path("identity/", agent_views.identity_upload, name="agent-identity"),
    path("customers/", agent_views.customers, name="agent-customers"),
    path("customers/<int:customer_id>/", agent_views.customer_detail, name="agent-customer"),
    path(
        "customers/<int:customer_id>/order/",
        agent_views.customer_order,
        name="agent-customer-order",
    ),
    path("prices/", agent_views.prices, name="agent-prices"),
    path("statement/", agent_views.statement, name="agent-statement"),
    path("tokens/", agent_views.tokens, name="agent-tokens"),
    path(
        "tokens/<int:token_id>/revoke/",
        agent_views.token_revoke_view,
        name="agent-token-revoke",
    ),
    path("webhooks/", agent_views.webhooks, name="agent-webhooks"),
    path("webhooks/<int:webhook_id>/", agent_views.webhook_detail, name="agent-webhook"),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        agent_views.webhook_deliveries,
        name="agent-webhook-deliveries",
    ),
    path("webhooks/<int:webhook_id>/test/", agent_views.webhook_test, name="agent-webhook-test"),
    path(
        "webhooks/<int:webhook_id>/rotate-secret/",
        agent_views.webhook_rotate_secret,
        name="agent-webhook-rotate",
    ),
    path(
        "webhooks/<int:webhook_id>/status/",
        agent_views.webhook_status,
        name="agent-webhook-status",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/replay/",
        agent_views.delivery_replay_view,
        name="agent-delivery-replay",
    ),
]
