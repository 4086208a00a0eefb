"""A job keeps its lease while it works: a heartbeat between units extends the 5-minute lease,
so a long batch is not given to a second worker; and a worker whose job was taken over anyway
(it stalled past its lease) stops at its next heartbeat and records nothing over the other
worker's run (RELIABILITY "Jobs ... a lease"; rule 4's reminder batches)."""

from typing import Any

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult

from licensary.billing.services import deposit_create
from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from licensary.jobs.tasks import jobs_reap_stale
from licensary.notifications.tasks import send_invoice_reminders
from tests.helpers import make_account
from tests.jobs import slow_mail
from tests.jobs.tasks_for_tests import RUNS, WHILE_A_UNIT_RUNS, works_in_units

LEASE = 300


def another_worker_takes_over_when_reaped(reaped: list[int]) -> Any:
    """The sweep reaping in another process, and another worker running what it gave back."""

    def meanwhile() -> None:
        if reaped and reaped[-1]:
            return  # the other worker ran it already
        reaped.append(jobs_reap_stale())
        if reaped[-1]:
            run_pending_jobs()

    return meanwhile


@pytest.mark.django_db
def test_reliability_job_lease_a_job_that_heartbeats_keeps_its_lease_past_five_minutes(clock):
    row = works_in_units.enqueue(label="long", units=4)
    reaped: list[int] = []
    WHILE_A_UNIT_RUNS.extend(
        [lambda: clock.shift(200), another_worker_takes_over_when_reaped(reaped)]
    )

    assert run_pending_jobs() == 1

    assert reaped == [0, 0, 0, 0]  # 800 s of work, never past its lease
    assert RUNS == ["long 0", "long 1", "long 2", "long 3"]
    job = DBTaskResult.objects.get(pk=row.id)
    assert (job.status, job.return_value, len(job.worker_ids)) == ("SUCCESSFUL", "long done", 1)
    assert run_pending_jobs() == 0


@pytest.mark.django_db
def test_reliability_job_lease_a_worker_whose_job_was_taken_over_stops_and_records_nothing(clock):
    row = works_in_units.enqueue(label="long", units=3)
    reaped: list[int] = []
    stalled = [False]

    def stall_once() -> None:  # the first worker freezes past its lease after its first unit
        if not stalled[0]:
            stalled[0] = True
            clock.shift(LEASE + 1)

    WHILE_A_UNIT_RUNS.extend([stall_once, another_worker_takes_over_when_reaped(reaped)])

    assert run_pending_jobs() == 1

    # The first worker's unit 0 was done before its lease ran out; then the other worker ran
    # the whole job, and the first one stopped at its next heartbeat.
    assert RUNS == ["long 0", "long 0", "long 1", "long 2"]
    job = DBTaskResult.objects.get(pk=row.id)
    assert (job.status, job.return_value, len(job.worker_ids)) == ("SUCCESSFUL", "long done", 2)
    assert DBTaskResult.objects.count() == 1  # no retry was queued by the worker that lost it
    assert not DeadJob.objects.exists()
    assert run_pending_jobs() == 0


@pytest.mark.django_db
def test_rule4_a_long_reminder_batch_mails_each_customer_once(clock, settings):
    settings.EMAIL_BACKEND = "tests.jobs.slow_mail.SlowEmailBackend"
    customers = [make_account(f"customer{n}@example.test") for n in range(4)]
    invoices = [deposit_create(account=c, amount=1000, actor=c).pk for c in customers]
    send_invoice_reminders.enqueue(invoice_ids=invoices, stage=2)
    reaped: list[int] = []
    slow_mail.WHILE_SENDING.extend(
        [lambda: clock.shift(100), another_worker_takes_over_when_reaped(reaped)]
    )
    try:
        assert run_pending_jobs() == 1
    finally:
        slow_mail.WHILE_SENDING.clear()

    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    assert not any(reaped)
