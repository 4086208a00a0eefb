from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from licensary.core.admin import ReadOnlyAdminMixin, decide_each
from licensary.notifications.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from licensary.notifications.services import delivery_replay, endpoint_update


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Agents register and change their endpoints through the API (audited); here staff see
    their health and enable or disable them, through the same service."""

    list_display = ["id", "agent", "url", "status", "failing_since", "disabled_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["url", "agent__email"]
    exclude = ["secret_sealed", "previous_secret_sealed"]  # never shown
    actions = ["enable", "disable"]

    def _set(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        assert request.user.is_authenticated
        user = request.user
        decide_each(
            self,
            request,
            queryset,
            lambda e: endpoint_update(endpoint=e, actor=user, status=status),
        )

    @admin.action(description="Enable the endpoints (their failures forgotten)")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, WebhookEndpoint.Status.ENABLED)

    @admin.action(description="Disable the endpoints (nothing more is sent to them)")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, WebhookEndpoint.Status.DISABLED)


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "status_code", "latency_ms", "outcome", "error", "response"]
    extra = 0


@admin.register(WebhookMessage)
class WebhookMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Deliveries and their attempts, written by the sender; replayed through the service."""

    list_display = [
        "webhook_id",
        "endpoint",
        "event_type",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["webhook_id", "object_id"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.action(description="Replay the deliveries now (same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        assert request.user.is_authenticated
        user = request.user
        decide_each(
            self,
            request,
            queryset.select_related("endpoint"),
            lambda m: delivery_replay(message=m, actor=user),
        )
