"""Issue 11 item 4: every lifecycle mail reaches the right person exactly once, through a real
SMTP server on 127.0.0.1 (aiosmtpd) started by the test: order delivered and held, invoice
issued, receipts confirmed and rejected, renewal reminders, blocked, canceled, deleted, a
ticket reply, a transfer, a claim and a ban; a sweep run twice and a mail job run twice send
nothing twice; each mail has a text and an HTML part."""

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from licensary.billing.models import Invoice
from licensary.jobs.runner import run_pending_jobs
from licensary.licenses.sweep import sweep
from licensary.notifications.mail import mails_send
from licensary.notifications.models import MailMessage
from licensary.notifications.tasks import notify_license_event, send_invoice_reminders
from tests.helpers import OTHER_IP, PUBLIC_IP, Api, api_for, give_credit

pytestmark = pytest.mark.django_db

START = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
PERIOD_END = START + 30 * DAY
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
THIRD_IP = "93.184.216.60"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(message)
        return "250 OK"

    def take(self) -> list[tuple[str, str]]:
        """The (recipient, subject) of each message received since the last call."""
        with self.lock:
            taken, self.received = self.received, []
        return [(str(m["To"]), str(m["Subject"])) for m in taken]

    def take_messages(self) -> list[EmailMessage]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    sink.controller.stop()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, "a text and an HTML part"
    return text.get_content(), html.get_content()


def run_jobs_twice() -> None:
    """The worker, and then again: a second pass finds nothing to send."""
    run_pending_jobs()
    run_pending_jobs()


def order(api: Api, ip: str, **extra: object) -> dict[str, Any]:
    made = api.post("/orders", {"product": "panel", "ip": ip, **extra})
    assert made.status_code == 201, made.json_body
    return made.json_body


def pay(api: Api, invoice: object) -> None:
    paid = api.post(f"/invoices/{invoice}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body


def upload_receipt(api: Api, invoice: object, reference: str) -> str:
    data = {
        "file": SimpleUploadedFile("r.png", PNG + reference.encode(), "image/png"),
        "reference": reference,
    }
    made = api.client.post(f"/api/v1/invoices/{invoice}/receipts", data, **api.headers)
    assert made.status_code == 201, made.json()
    return made.json()["id"]


def sweep_twice_at(clock: time_machine.Traveller, moment: datetime) -> None:
    clock.move_to(moment)
    sweep()
    run_pending_jobs()
    sweep()
    run_jobs_twice()


def test_every_lifecycle_mail_reaches_the_right_person_once(
    smtp, clock, alice, bob, charlie_like, staff, product
):
    charlie = charlie_like
    give_credit(alice, 3000, staff)
    give_credit(bob, 1500, staff)
    alice_api, bob_api, charlie_api, staff_api = (
        api_for(alice),
        api_for(bob),
        api_for(charlie),
        api_for(staff),
    )

    # Order delivered: paid at once, so its invoice needs no mail of its own.
    first = order(alice_api, PUBLIC_IP)
    pay(alice_api, first["invoice"])
    run_jobs_twice()
    license_id = alice_api.get(f"/orders/{first['id']}").json_body["license"]
    delivered = smtp.take_messages()
    assert [(m["To"], m["Subject"]) for m in delivered] == [
        (alice.email, f"Your license is delivered: Panel Pro on {PUBLIC_IP}")
    ]
    text, html = parts(delivered[0])
    assert "Panel Pro (system license)" in text
    assert "system license" in html
    assert parseaddr(str(delivered[0]["From"])) == ("Licensary", "billing@licensary.localhost")

    # Order held: bob's order of the IP alice holds waits for staff.
    held = order(bob_api, PUBLIC_IP)
    pay(bob_api, held["invoice"])
    run_jobs_twice()
    assert smtp.take() == [(bob.email, f"Your order {held['id']} is held for review")]

    # Invoice issued; a receipt rejected, another confirmed, and the order delivered.
    unpaid = order(charlie_api, OTHER_IP)
    run_jobs_twice()
    number = charlie_api.get(f"/invoices/{unpaid['invoice']}").json_body["number"]
    assert smtp.take() == [(charlie.email, f"Invoice {number} for order {unpaid['id']}")]
    rejected = upload_receipt(charlie_api, unpaid["invoice"], "TX-1")
    staff_api.post(f"/receipts/{rejected}/reject", {"reason": "The slip is unreadable."})
    run_jobs_twice()
    assert smtp.take() == [
        (charlie.email, f"Invoice {number}: your payment receipt was not accepted")
    ]
    confirmed = upload_receipt(charlie_api, unpaid["invoice"], "TX-2")
    assert staff_api.post(f"/receipts/{confirmed}/confirm").status_code == 200
    run_jobs_twice()
    assert sorted(smtp.take()) == [
        (charlie.email, f"Invoice {number}: your payment receipt is confirmed"),
        (charlie.email, f"Your license is delivered: Panel Pro on {OTHER_IP}"),
    ]

    # The renewal notice at issue, then 3 days and 1 day before the end; each sweep twice.
    # charlie's license was delivered the same second as alice's: his mails are his own.
    sweep_twice_at(clock, PERIOD_END - 7 * DAY)
    notices = [
        (invoice.account.email, f"Invoice {invoice.number}: renewal due 2025-10-31")
        for invoice in Invoice.objects.filter(purpose="renewal").select_related("account")
    ]
    assert sorted(to for to, _ in notices) == [alice.email, charlie.email]
    assert sorted(smtp.take()) == sorted(notices)
    for days in (3, 1):
        sweep_twice_at(clock, PERIOD_END - days * DAY)
        assert sorted(smtp.take()) == sorted((to, f"{notice} (reminder)") for to, notice in notices)

    # Blocked, canceled, deleted (charlie's license too: it was bought the same second).
    sweep_twice_at(clock, PERIOD_END + SECOND)
    assert sorted(smtp.take()) == [
        (alice.email, "Your license is blocked: renew it to unblock"),
        (charlie.email, "Your license is blocked: renew it to unblock"),
    ]
    sweep_twice_at(clock, PERIOD_END + 7 * DAY + SECOND)
    assert sorted(smtp.take()) == [
        (alice.email, "Your license is canceled: it can still be renewed"),
        (charlie.email, "Your license is canceled: it can still be renewed"),
    ]
    sweep_twice_at(clock, datetime(2026, 2, 28, 10, 0, 1, tzinfo=UTC))
    assert sorted(smtp.take()) == [
        (alice.email, "Your license is deleted"),
        (charlie.email, "Your license is deleted"),
    ]

    # The mail jobs queued again (a retry, a second worker) send nothing again.
    notify_license_event.enqueue(license_ids=str(license_id), event="deleted")
    invoice_ids = list(MailMessage.objects.values_list("pk", flat=True))
    run_jobs_twice()
    assert mails_send(invoice_ids) == 0
    assert smtp.take() == []

    # A transfer: a fresh license of charlie's goes to bob.
    give_credit(charlie, 1500, staff)
    again = order(charlie_api, THIRD_IP)
    pay(charlie_api, again["invoice"])
    run_jobs_twice()
    smtp.take()
    moving = charlie_api.get(f"/orders/{again['id']}").json_body["license"]
    transfer = charlie_api.post("/transfers", {"license": moving, "to_account": bob.email})
    assert transfer.status_code == 201, transfer.json_body
    run_jobs_twice()
    assert smtp.take() == [(bob.email, f"License {moving} is offered to you")]
    bob_api.post(f"/transfers/{transfer.json_body['id']}/accept")
    run_jobs_twice()
    assert sorted(smtp.take()) == [
        (bob.email, f"License {moving} transferred"),
        (charlie.email, f"License {moving} transferred"),
    ]

    # A claim of bob's (active) license by alice: bob hears of it and of the approval.
    made = alice_api.post("/claims", {"product": "panel", "ip": THIRD_IP}).json_body
    run_jobs_twice()
    assert smtp.take() == [(bob.email, f"Your license for Panel Pro on {THIRD_IP} is claimed")]
    proved = Client().post(
        f"/api/v1/claims/{made['id']}/proof",
        data={"challenge": made["challenge"]},
        content_type="application/json",
        REMOTE_ADDR=THIRD_IP,
    )
    assert proved.status_code == 200, proved.json()
    run_jobs_twice()
    assert smtp.take() == []  # the proof tells nobody
    clock.shift(3 * DAY + SECOND)
    approved = staff_api.post(f"/claims/{made['id']}/approve")
    assert approved.status_code == 200, approved.json_body
    run_jobs_twice()
    assert sorted(smtp.take()) == [
        (alice.email, f"Your claim of Panel Pro on {THIRD_IP} is approved"),
        (bob.email, f"Your license for Panel Pro on {THIRD_IP} is canceled"),
    ]

    # A ticket reply.
    ticket = alice_api.post(
        "/tickets", {"department": "technical", "subject": "Boot", "body": "It fails."}
    ).json_body
    staff_api.post(f"/tickets/{ticket['id']}/messages", {"body": "Try again now."})
    run_jobs_twice()
    [reply] = smtp.take_messages()
    assert (reply["To"], reply["Subject"]) == (
        alice.email,
        f"Ticket {ticket['id']}: support answered",
    )
    assert "Try again now." in parts(reply)[0]

    # A ban: one mail, however many licenses it cancels.
    banned = staff_api.post(f"/accounts/{charlie.pk}/ban", {"reason": "sharing", "note": "resold"})
    assert banned.status_code == 200, banned.json_body
    run_jobs_twice()
    assert smtp.take() == [(charlie.email, "Your account is banned")]

    # Every row sent once, none left.
    assert not MailMessage.objects.exclude(status="sent").exists()
    assert all(row.attempts == 1 for row in MailMessage.objects.all())


def test_a_reminder_job_run_twice_and_a_row_sent_twice_mail_once(
    smtp, clock, alice, staff, product
):
    give_credit(alice, 1500, staff)
    api = api_for(alice)
    first = order(api, PUBLIC_IP)
    pay(api, first["invoice"])
    run_pending_jobs()
    assert len(smtp.take()) == 1  # delivered
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    run_pending_jobs()
    [(_, notice)] = smtp.take()
    row = MailMessage.objects.get(event="invoice_reminder")
    invoice_id = int(row.dedupe_key.split(":")[1])

    send_invoice_reminders.enqueue(invoice_ids=[invoice_id], stage=1)
    send_invoice_reminders.enqueue(invoice_ids=[invoice_id], stage=1)
    run_pending_jobs()

    assert notice.endswith(": renewal due 2025-10-31")
    assert smtp.take() == []
    assert mails_send([row.pk, row.pk]) == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)
    assert MailMessage.objects.filter(event="invoice_reminder").count() == 1
