"""The mail outbox: every e-mail is first a row (`MailMessage`), then sent, exactly once.

A mail job (the worker, after the change that causes it has committed) says which mails an
event makes (`Mail`: the event's key, the recipient, the template and its values). `mails_queue`
writes each as a row under its `dedupe_key` (the event's key and the recipient), rendered in
the recipient's language, with INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike):
a job run twice, or two jobs for the same event, write one row. `mails_send` then sends the
rows outside any transaction: each is claimed with a compare-and-swap (pending -> sending,
with a lease), sent over Django's mail connection, and marked sent. A sent row is never
claimed again (a sweep run twice, a job retried, two workers); a row whose sender died
mid-send is claimed again once its lease has passed (the job that meets a row still under
another sender's lease fails, to be retried later, rather than count it as sent). Only a
crash between the SMTP server's "250 OK" and the row's update can send a mail twice; its
Message-ID is then the same, so mail clients show it once.

The sender is the platform's name (the display name of DEFAULT_FROM_EMAIL, "Licensary" when
it has none) or, for an agent's customer, the agent's white-label name; the address is always
DEFAULT_FROM_EMAIL's. Templates (`templates/mail/<name>.txt` and `.html`) sign with it.
"""

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from licensary.accounts.models import User
from licensary.jobs.tasks import heartbeat
from licensary.notifications.models import MailMessage

logger = logging.getLogger(__name__)
M = MailMessage.Status
PLATFORM_NAME = "Licensary"  # when DEFAULT_FROM_EMAIL names no one
SMTP_TIMEOUT_SECONDS = 30
# A claimed row is its sender's for this long: well past one SMTP exchange, and never past a
# job's lease, so that a reaped job finds the rows of its dead worker free again.
SEND_LEASE = timedelta(seconds=4 * SMTP_TIMEOUT_SECONDS)


def send_lease() -> timedelta:
    return min(SEND_LEASE, timedelta(seconds=settings.LICENSARY["JOB_LEASE_SECONDS"]))


class MailNotSent(Exception):
    """Some messages failed to send; the job is retried (the sent ones are not sent again)."""


@dataclass(frozen=True)
class Mail:
    """One mail an event makes: `key` names the event ("license.blocked:41:<blocked_at>"),
    once per recipient; `template` is the name under templates/mail/."""

    key: str
    to: User
    template: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return f"{self.key}>to:{self.to.pk}"[:200]


def platform_name() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[0] or PLATFORM_NAME


def from_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def brand_for(user: User) -> str:
    """Whose name the mail to `user` goes under: its agent's white label, if it chose one."""
    agent = user.agent if user.kind == User.Kind.CUSTOMER and user.agent_id else None
    if agent is not None and agent.white_label_name:
        return agent.white_label_name
    return platform_name()


def payer_context(person: User, *, owner: User, payer: User) -> dict[str, object]:
    """What a license's mail adds for `person` when its agent pays for it: the owner is told
    its agent renews it (`renewed_by`), the agent whom it sold it to (`sold_to`)."""
    if payer.pk == owner.pk:
        return {}
    if person.pk == owner.pk:
        return {"renewed_by": payer.white_label_name or payer.email}
    return {"sold_to": owner.email}


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def mail_render(mail: Mail) -> MailMessage:
    """The row for `mail`, rendered in its recipient's language: the text template's first
    line is the subject, the rest its body; the HTML template is the other part."""
    brand = brand_for(mail.to)
    language = mail.to.language or settings.LANGUAGE_CODE
    # Under an agent's white label the mail names no address of ours beyond its sender's.
    public_url = settings.PUBLIC_URL if brand == platform_name() else ""
    context = {**mail.context, "brand": brand, "public_url": public_url}
    with translation.override(language):
        text = render_to_string(f"mail/{mail.template}.txt", context)
        subject, _, body = text.strip().partition("\n")
        subject = " ".join(subject.split())
        html = render_to_string(f"mail/{mail.template}.html", context | {"mail_subject": subject})
    return MailMessage(
        dedupe_key=mail.dedupe_key,
        event=mail.template,
        account=mail.to,
        to_email=mail.to.email,
        from_name=brand[:100],
        subject=subject[:200],
        text=_tidy(body),
        html=html.strip() + "\n",
        language=language,
        created_at=timezone.now(),
    )


def mails_queue(mails: Iterable[Mail]) -> list[int]:
    """Write the rows of `mails` that do not exist yet (a key once, whoever writes it first);
    the ids of all of them, written now or before, in the order given."""
    wanted = {mail.dedupe_key: mail for mail in mails}
    if not wanted:
        return []
    existing = set(
        MailMessage.objects.filter(dedupe_key__in=wanted).values_list("dedupe_key", flat=True)
    )
    rows = [mail_render(mail) for key, mail in wanted.items() if key not in existing]
    # ON CONFLICT DO NOTHING: a second writer meanwhile (two workers) is not an error.
    MailMessage.objects.bulk_create(rows, ignore_conflicts=True)
    ids = dict(MailMessage.objects.filter(dedupe_key__in=wanted).values_list("dedupe_key", "pk"))
    return [ids[key] for key in wanted if key in ids]


def mails_queue_and_send(mails: Iterable[Mail]) -> int:
    """What a mail job does: write the rows, then send those not sent yet; how many went."""
    return mails_send(mails_queue(mails))


class HeldElsewhere(Exception):
    """The row is being sent by another worker whose lease still runs."""


def mail_claim(pk: int) -> MailMessage | None:
    """The row, claimed for sending (committed); None when it is sent or failed for good.
    Raises `HeldElsewhere` when another worker's lease on it still runs (or it claimed the row
    first): that worker may yet die, so the caller must not take the row as done."""
    now = timezone.now()
    row = MailMessage.objects.filter(pk=pk, status__in=[M.PENDING, M.SENDING]).first()
    if row is None:
        return None
    if row.status == M.SENDING and row.lease_until and row.lease_until > now:
        raise HeldElsewhere(f"mail {pk} is being sent by another worker until {row.lease_until}")
    claimed = MailMessage.objects.filter(pk=pk, status=row.status, attempts=row.attempts).update(
        status=M.SENDING, attempts=F("attempts") + 1, lease_until=now + send_lease()
    )
    if claimed != 1:
        raise HeldElsewhere(f"mail {pk} was claimed by another worker first")
    row.status, row.attempts = M.SENDING, row.attempts + 1
    return row


def _mine(row: MailMessage) -> Any:
    return MailMessage.objects.filter(pk=row.pk, status=M.SENDING, attempts=row.attempts)


def mail_sent(row: MailMessage) -> None:
    if not _mine(row).update(status=M.SENT, sent_at=timezone.now(), lease_until=None):
        logger.warning("mail %s was sent after its lease ran out", row.pk)


def mail_failed(row: MailMessage, error: str) -> None:
    """Back to pending for the job's next attempt; failed for good after JOB_MAX_ATTEMPTS."""
    final = row.attempts >= settings.LICENSARY["JOB_MAX_ATTEMPTS"]
    _mine(row).update(
        status=M.FAILED if final else M.PENDING, lease_until=None, last_error=error[:300]
    )


def email_for(row: MailMessage, connection: BaseEmailBackend) -> EmailMultiAlternatives:
    """The message as sent: text and HTML parts, From the brand's name at our address, and
    a Message-ID made from the dedupe key (the same on any resend)."""
    address = from_address()
    digest = hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32]
    domain = address.rpartition("@")[2] or "localhost"
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.text,
        from_email=formataddr((row.from_name, address)),
        to=[row.to_email],
        headers={"Message-ID": f"<{digest}@{domain}>", "Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    message.attach_alternative(row.html, "text/html")
    return message


def mails_send(ids: Iterable[int]) -> int:
    """Send each row of `ids` that is still to send, one by one over one connection, with a
    job heartbeat before each (a long batch keeps its lease; a worker whose job was taken
    over stops here). Never inside a transaction. Raises `MailNotSent` after the rest when
    some failed or were held by another sender (which may die before it marks them sent), so
    that the job is retried: a retry sends only what is still unsent."""
    sent = 0
    errors: list[str] = []
    connection: BaseEmailBackend | None = None
    try:
        for pk in ids:
            heartbeat()
            try:
                row = mail_claim(pk)
            except HeldElsewhere as held:
                errors.append(str(held))
                continue
            if row is None:
                continue
            try:
                if connection is None:
                    connection = get_connection(fail_silently=False, timeout=SMTP_TIMEOUT_SECONDS)
                    connection.open()
                if connection.send_messages([email_for(row, connection)]) != 1:
                    raise MailNotSent("the mail backend accepted nothing")
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                mail_failed(row, error)
                errors.append(f"mail {pk}: {error}")
                if connection is not None:
                    connection.close()
                connection = None  # a broken SMTP session is not reused
                continue
            mail_sent(row)
            sent += 1
    finally:
        if connection is not None:
            connection.close()
    if errors:
        raise MailNotSent("; ".join(errors)[:1000])
    return sent
