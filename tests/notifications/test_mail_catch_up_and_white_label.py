"""Issue 11 item 4: after a gap the sweep sends only the mail that still makes sense (the
latest reminder, not the stale ones; no reminder of a paid invoice or a blocked license's);
an agent's customers get mail under the agent's white-label name; a row is claimed by one
sender only."""

from datetime import timedelta
from email.utils import parseaddr

import pytest

from licensary.jobs.runner import run_pending_jobs
from licensary.licenses.sweep import sweep
from licensary.notifications.mail import (
    HeldElsewhere,
    MailNotSent,
    mail_claim,
    mails_send,
    send_lease,
)
from licensary.notifications.models import MailMessage
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, give_credit
from tests.notifications.test_mail_lifecycle import (
    DAY,
    PERIOD_END,
    SECOND,
    clock,
    order,
    parts,
    pay,
    smtp,
)

__all__ = ["clock", "smtp"]
pytestmark = pytest.mark.django_db


def bought(user, staff, ip=PUBLIC_IP) -> str:
    give_credit(user, 1500, staff)
    api = api_for(user)
    made = order(api, ip)
    pay(api, made["invoice"])
    run_pending_jobs()
    return api.get(f"/orders/{made['id']}").json_body["license"]


def test_a_sweep_after_a_gap_sends_the_one_day_reminder_only(smtp, clock, alice, staff, product):
    bought(alice, staff)
    smtp.take()

    clock.move_to(PERIOD_END - DAY / 2)  # no sweep ran since the purchase
    sweep()
    run_pending_jobs()

    [(to, subject)] = smtp.take()
    assert to == alice.email
    assert subject.endswith(": renewal due 2025-10-31 (reminder)")
    [reminder] = MailMessage.objects.filter(event="invoice_reminder")
    assert reminder.dedupe_key.endswith(f":3>to:{alice.pk}")  # the 1-day stage, alone


def test_a_sweep_after_the_period_ended_sends_no_reminder_only_the_state_the_license_is_in(
    smtp, clock, alice, staff, product
):
    bought(alice, staff)
    smtp.take()

    clock.move_to(PERIOD_END + 7 * DAY + SECOND)  # blocked and canceled in one run
    sweep()
    run_pending_jobs()
    sweep()
    run_pending_jobs()

    assert smtp.take() == [(alice.email, "Your license is canceled: it can still be renewed")]


def test_a_paid_renewal_gets_no_more_reminders(smtp, clock, alice, staff, product):
    license_id = bought(alice, staff)
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    run_pending_jobs()
    smtp.take()
    renewal = api_for(alice).get("/invoices?limit=50").json_body["items"]
    [invoice] = [i for i in renewal if i["lines"][0]["kind"] == "renewal"]
    give_credit(alice, 1000, staff)
    pay(api_for(alice), invoice["id"])
    run_pending_jobs()

    for moment in (PERIOD_END - 3 * DAY, PERIOD_END - DAY, PERIOD_END + SECOND):
        clock.move_to(moment)
        sweep()
        run_pending_jobs()

    assert smtp.take() == []
    assert api_for(alice).get(f"/licenses/{license_id}").json_body["status"] == "active"


def test_an_agents_customers_get_mail_under_its_white_label_name(
    smtp, clock, carol, dave, staff, product
):
    chosen = api_for(carol).post("/account/white-label", {"name": "Carol  Hosting "})
    give_credit(carol, 1500, staff)  # whichever pays: the agent (wholesale) or its customer
    give_credit(dave, 1500, staff)
    carol_api = api_for(carol)
    made = order(carol_api, OTHER_IP, account=str(dave.pk))
    pay(carol_api, made["invoice"])
    run_pending_jobs()

    assert (chosen.status_code, chosen.json_body) == (200, {"name": "Carol Hosting"})
    messages = {str(m["To"]): m for m in smtp.take_messages()}
    # dave always; carol too when the invoice is hers (the agent pays for its customer).
    assert sorted(messages) in ([dave.email], [carol.email, dave.email])
    to_dave = messages[dave.email]
    assert parseaddr(str(to_dave["From"])) == ("Carol Hosting", "billing@licensary.localhost")
    text, html = parts(to_dave)
    assert "Carol Hosting" in text and "Carol Hosting" in html
    assert "Licensary" not in f"{to_dave['Subject']}{text}{html}"
    assert "(system license)" in text
    if carol.email in messages:
        assert parseaddr(str(messages[carol.email]["From"]))[0] == "Licensary"


def test_a_white_label_is_the_agents_own_choice(carol, dave, alice):
    cleared = api_for(carol).post("/account/white-label", {"name": ""})
    refused = api_for(alice).post("/account/white-label", {"name": "Alice Inc"})

    assert (cleared.status_code, cleared.json_body) == (200, {"name": ""})
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")


def test_a_mail_row_is_claimed_by_one_sender_only(smtp, clock, alice, staff, product):
    bought(alice, staff)
    row = MailMessage.objects.get()
    MailMessage.objects.filter(pk=row.pk).update(status="pending", sent_at=None)

    first = mail_claim(row.pk)
    with pytest.raises(HeldElsewhere):  # not "done": the first sender may yet die
        mail_claim(row.pk)
    clock.shift(timedelta(minutes=3))  # the first sender died: its lease has passed
    third = mail_claim(row.pk)

    assert (first is not None, third is not None) == (True, True)
    assert MailMessage.objects.get(pk=row.pk).attempts == 3  # sent once before, then two claims


def test_a_mail_job_that_meets_a_row_another_sender_holds_is_retried_and_sends_it_once(
    smtp, clock, alice, staff, product
):
    bought(alice, staff)
    row = MailMessage.objects.get()
    smtp.take()
    MailMessage.objects.filter(pk=row.pk).update(status="pending", sent_at=None)
    mail_claim(row.pk)  # a worker claims it ... and dies before it says "sent"

    with pytest.raises(MailNotSent, match="being sent by another worker"):
        mails_send([row.pk])
    assert MailMessage.objects.get(pk=row.pk).status == "sending"
    clock.shift(timedelta(minutes=3))  # its lease has passed: the job's retry sends it

    assert mails_send([row.pk]) == 1
    assert MailMessage.objects.get(pk=row.pk).status == "sent"
    assert len(smtp.take()) == 1


def test_a_mail_row_is_never_held_longer_than_a_job_s_lease(settings):
    settings.LICENSARY = {**settings.LICENSARY, "JOB_LEASE_SECONDS": 5}
    assert send_lease() == timedelta(seconds=5)
    settings.LICENSARY = {**settings.LICENSARY, "JOB_LEASE_SECONDS": 300}
    assert send_lease() == timedelta(minutes=2)
