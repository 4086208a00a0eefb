"""The email telling an account that staff answered its ticket."""

from django.conf import settings
from django.core.mail import send_mail

from licensary.jobs.tasks import durable_task
from licensary.support.models import Message


@durable_task
def notify_ticket_reply(*, message_id: int) -> int:
    message = (
        Message.objects.select_related("ticket__account")
        .filter(pk=message_id, internal=False)
        .first()
    )
    if message is None:
        return 0
    ticket = message.ticket
    body = (
        f"Support answered your ticket {ticket.pk} ({ticket.subject}):\n\n"
        f"{message.body}\n\n"
        f"Reply on the ticket: {settings.PUBLIC_URL}/api/v1/tickets/{ticket.pk}\n"
    )
    return send_mail(
        f"Ticket {ticket.pk}: support answered",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [ticket.account.email],
        fail_silently=False,
    )
