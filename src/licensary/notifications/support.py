"""The mail telling an account that staff answered its ticket."""

from licensary.jobs.tasks import durable_task
from licensary.notifications.mail import Mail, mails_queue_and_send
from licensary.support.models import Message


@durable_task
def notify_ticket_reply(*, message_id: int) -> int:
    message = (
        Message.objects.select_related("ticket__account__agent")
        .filter(pk=message_id, internal=False)
        .first()
    )
    if message is None:
        return 0
    ticket = message.ticket
    return mails_queue_and_send(
        [
            Mail(
                key=f"ticket.reply:{message.pk}",
                to=ticket.account,
                template="ticket_reply",
                context={"ticket_id": ticket.pk, "subject": ticket.subject, "body": message.body},
            )
        ]
    )
