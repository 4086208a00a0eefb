"""Tickets in the console: read-only rows; assigning, closing and the unresolvable mark are
actions calling the services. Throttle hits are read-only evidence."""

from django.contrib import admin

from licensary.core.admin import ReadOnlyAdminMixin, decide_each
from licensary.support.models import Attachment, Message, ThrottleHit, Ticket
from licensary.support.services import ticket_assign, ticket_close, ticket_mark_unresolvable


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ["created_at", "author", "internal", "body"]
    readonly_fields = ["created_at", "author", "internal", "body"]
    extra = 0


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "account", "department", "subject", "status", "assigned_to", "updated_at"]
    list_filter = ["department", "status"]
    search_fields = ["subject", "account__email"]
    inlines = [MessageInline]
    actions = ["assign_to_me", "close", "mark_unresolvable"]

    @admin.action(description="Assign to me")
    def assign_to_me(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda t: ticket_assign(ticket=t, to=request.user, actor=request.user),
        )

    @admin.action(description="Close")
    def close(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda t: ticket_close(ticket=t, actor=request.user, note="closed in the console"),
        )

    @admin.action(description="The license's problem cannot be solved (makes it refundable)")
    def mark_unresolvable(self, request, queryset) -> None:
        decide_each(
            self,
            request,
            queryset,
            lambda t: ticket_mark_unresolvable(
                ticket=t,
                actor=request.user,
                note="Marked in the console: the licensing problem cannot be solved.",
            ),
        )


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "message", "original_name", "content_type", "size"]


@admin.register(ThrottleHit)
class ThrottleHitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The evidence for a `support_spam` ban: every refused ticket or message."""

    list_display = ["at", "account", "kind", "limit", "ip", "ticket", "subject"]
    list_filter = ["kind"]
    search_fields = ["account__email"]
