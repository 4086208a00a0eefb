"""Issue 14 item 4, the crash matrix: a real `licensary worker` is SIGKILLed in the middle of
a delivery, a refund, a sweep batch, a webhook batch, a mail batch and a supplier call; a
fresh worker is started; when the queue is drained every job has completed once, no
transition happened twice, no ledger transaction is half-written, no mail or webhook went
twice beyond the one the dead worker had in flight (the same Message-ID, the same
`webhook-id`: the receiver can tell), and no upstream license was bought twice.

Each worker is stopped at a real point of its work, with nothing added to the code for it: a
row lock the test holds on its own PostgreSQL session (the worker's transaction waits for it
with its writes made and not committed), an SMTP server or a webhook receiver that has the
message and does not answer yet, a supplier that has sold the license and answers late.

PostgreSQL only: the worker is another process on the test's database, and the row locks
that stop it mid-transaction are PostgreSQL's. Leases are a few seconds (the settings a
worker reads), so a dead worker's job comes back at once.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry, AuditHead
from licensary.audit.services import audit_verify
from licensary.billing.models import Invoice, Refund
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.jobs.models import DeadJob
from licensary.jobs.runner import run_pending_jobs
from licensary.jobs.tasks import ATTEMPT
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.notifications.mail import email_for
from licensary.notifications.models import MailMessage, WebhookMessage
from licensary.notifications.services import endpoint_create
from licensary.orders.delivery import deliver_order
from licensary.orders.models import Order
from licensary.orders.services import order_create, refund_never_delivered
from licensary.suppliers.models import SupplierAccount, UpstreamOperation
from licensary.suppliers.simulator import make_server
from tests.concurrency import require_postgres
from tests.helpers import PUBLIC_IP, give_credit
from tests.licenses.support import public_ip
from tests.ops.crash_rig import (
    HookReceiver,
    SmtpServer,
    Workers,
    row_locks,
    wait_for,
    worker_environment,
)
from tests.suppliers.conftest import Control

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

POSTGRES_ONLY = (
    "the crash matrix kills a worker process that shares the test's database and stops it "
    "with PostgreSQL row locks: it runs on PostgreSQL"
)
HEAD = f"SELECT id FROM {AuditHead._meta.db_table} WHERE id = 1 FOR UPDATE"
UNFINISHED = ("READY", "RUNNING")


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgres(POSTGRES_ONLY)


@dataclass
class Rig:
    tmp_path: Path
    smtp: SmtpServer
    started: list[Workers]
    mailed_here: set[int] = field(default_factory=set)

    def workers(self, *, lease: int = 3, **env: str) -> Workers:
        """Workers with the test database's settings, a lease of `lease` seconds and mail to
        the test's SMTP server. The mail sent so far went through the test's own outbox."""
        self.mailed_here = set(MailMessage.objects.values_list("pk", flat=True))
        extra = {"EMAIL_URL": self.smtp.url, "LICENSARY_JOB_LEASE_SECONDS": str(lease), **env}
        workers = Workers(worker_environment(self.tmp_path, **extra), self.tmp_path / "worker.log")
        self.started.append(workers)
        return workers


@pytest.fixture
def rig(tmp_path: Path, settings: Any) -> Iterator[Rig]:
    # The worker writes the audit head file where its LICENSARY_DATA_DIR says; the test's own
    # writes and `audit_verify` use the same file.
    settings.LICENSARY = {
        **settings.LICENSARY,
        "AUDIT_HEAD_FILE": str(tmp_path / "data" / "audit_head"),
        "ALLOW_PRIVATE_IPS": True,
    }
    (tmp_path / "data").mkdir(exist_ok=True)
    smtp = SmtpServer()
    smtp.start()
    rig = Rig(tmp_path, smtp, [])
    try:
        yield rig
    finally:
        for workers in rig.started:
            workers.kill_all()
        smtp.stop()


# --- the state each case starts from, built through the services ---


def paid_order(account: User, product: Product, staff: User, ip: str = PUBLIC_IP) -> Order:
    """An order paid with credit staff gave; the jobs before the payment already run here."""
    give_credit(account, product.price + product.setup_fee, staff)
    order = order_create(actor=account, product=product, ip=ip)
    run_pending_jobs()
    invoice_pay_with_credit(invoice=order.invoice, actor=account)
    return order


def licenses_bought(
    account: User, product: Product, staff: User, count: int, *, days_ago: int
) -> list[License]:
    """`count` licenses of `account` bought `days_ago` days ago, with their renewal invoices
    issued by the sweep 6 days before their period ended; every job of it run here."""
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=True):
        for n in range(count):
            paid_order(account, product, staff, ip=public_ip(n))
        run_pending_jobs()
    licenses = list(License.objects.filter(account=account).order_by("pk"))
    assert len(licenses) == count
    with time_machine.travel(licenses[-1].period_end - timedelta(days=6), tick=True):
        sweep()
        run_pending_jobs()
    return licenses


def renewal_invoice(lic: License) -> Invoice:
    return Invoice.objects.get(purpose=Invoice.Purpose.RENEWAL, lines__license=lic)


# --- what every case checks once a fresh worker has drained the queue ---


def drained() -> bool:
    return not DBTaskResult.objects.filter(status__in=UNFINISHED).exists()


def the_job(task: Any) -> DBTaskResult:
    return DBTaskResult.objects.get(task_path=task.module_path)


def audit_count(action: str, object_type: str, object_id: object) -> int:
    return AuditEntry.objects.filter(
        action=action, object_type=object_type, object_id=str(object_id)
    ).count()


def message_id(row: MailMessage) -> str:
    return str(email_for(row, None).extra_headers["Message-ID"])


def every_job_completed_once() -> None:
    """Each job (a task and its arguments, whatever the attempt) succeeded exactly once;
    nothing is left to run and nothing was dead-lettered."""
    assert drained()
    assert not DeadJob.objects.exists()
    runs: Counter[tuple[str, str]] = Counter()
    for row in DBTaskResult.objects.all():
        kwargs = {k: v for k, v in row.args_kwargs["kwargs"].items() if k != ATTEMPT}
        key = (row.task_path, repr(sorted(kwargs.items())))
        runs[key] += row.status == "SUCCESSFUL"
    assert runs and set(runs.values()) == {1}, runs


def the_ledger_balances() -> None:
    """Every ledger transaction is whole: two postings or more, summing to zero per currency."""
    for txn in LedgerTransaction.objects.all():
        postings = Posting.objects.filter(transaction=txn)
        assert postings.count() >= 2, txn.pk
        totals = postings.values("currency").annotate(total=Sum("amount"))
        assert all(row["total"] == 0 for row in totals), (txn.pk, list(totals))


def the_audit_chain_holds() -> None:
    report = audit_verify()
    assert (report.first_broken, report.problem) == (None, ""), report


def mail_sent_once(rig: Rig, *, in_flight: str | None = None) -> Counter[str]:
    """Every outbox row the workers wrote was sent and reached the SMTP server, each once:
    only the message in flight when the worker died (`in_flight`, a Message-ID) may have come
    twice, with its one Message-ID. How often each came."""
    smtp = rig.smtp
    rows = list(MailMessage.objects.exclude(pk__in=rig.mailed_here))
    assert {row.status for row in rows} <= {MailMessage.Status.SENT}, [
        (row.pk, row.status) for row in rows
    ]
    came = Counter(mail.message_id for mail in smtp.received)
    assert set(came) == {message_id(row) for row in rows}
    repeated = {mid: n for mid, n in came.items() if n > 1}
    assert repeated in ({}, {in_flight: 2}), repeated
    return came


def observed(case: str, **facts: object) -> None:
    """A line for the README's crash-matrix table (`pytest -s` shows them)."""
    print(f"\ncrash-matrix | {case} | " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def until_drained(workers: Workers, what: str, done: Any) -> float:
    started = time.monotonic()
    try:
        wait_for(what, lambda: drained() and done())
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{workers.output()}") from None
    return round(time.monotonic() - started, 1)


def waiting_for(workers: Workers, what: str, check: Any) -> Any:
    try:
        return wait_for(what, check)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{workers.output()}") from None


# --- the cases ---


def test_a_worker_killed_mid_delivery_leaves_no_trace_and_a_fresh_one_delivers_once(
    rig: Rig, alice: User, product: Product, staff: User
) -> None:
    order = paid_order(alice, product, staff)
    workers = rig.workers()

    with row_locks() as lock:
        head = lock(HEAD)
        first = workers.start()
        # The delivery has locked the order, written the license and the order's change, and
        # waits for the audit chain's head, the last lock of every transaction.
        waiting_for(workers, "the delivery to wait for the audit head", head.waiting)
        job = the_job(deliver_order)
        assert job.status == "RUNNING"
        first.kill()
    order.refresh_from_db()
    assert (order.status, License.objects.count()) == ("processing", 0)  # rolled back whole

    workers.start()
    took = until_drained(
        workers,
        "the order to be delivered",
        lambda: Order.objects.filter(pk=order.pk, status="completed").exists(),
    )

    order.refresh_from_db()
    lic = License.objects.get()
    assert (order.status, order.license_id, lic.status) == ("completed", lic.pk, "active")
    assert audit_count("order.completed", "order", order.pk) == 1
    assert audit_count("license.issued", "license", lic.pk) == 1
    job.refresh_from_db()
    assert (job.status, len(job.worker_ids)) == ("SUCCESSFUL", 2)  # the dead one, then the new
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    mails = mail_sent_once(rig)
    observed("delivery", runs=len(job.worker_ids), licenses=1, mails=sum(mails.values()), took=took)


def test_a_worker_killed_mid_refund_writes_no_half_a_ledger_transaction_and_refunds_once(
    rig: Rig, alice: User, product: Product, staff: User
) -> None:
    # Two paid orders of alice for one IP (a race): the second is refused as a duplicate and
    # refunded in full to her credit by a job.
    first_order = paid_order(alice, product, staff)
    second_order = paid_order(alice, product, staff)
    book = LedgerAccount.objects.get(key=f"credit:{alice.pk}:USD")
    before = LedgerTransaction.objects.count()
    workers = rig.workers()

    with row_locks() as lock:
        credit = lock(
            f"SELECT id FROM {LedgerAccount._meta.db_table} WHERE id = %s FOR UPDATE", (book.pk,)
        )
        first = workers.start()
        waiting_for(workers, "the refund to wait for alice's credit book", credit.waiting)
        head = lock(HEAD)
        credit.release()
        # The refund has posted its ledger transaction and waits for the audit head.
        waiting_for(workers, "the refund to wait for the audit head", head.waiting)
        job = the_job(refund_never_delivered)
        assert job.status == "RUNNING"
        first.kill()
    assert LedgerTransaction.objects.count() == before  # nothing of it committed
    assert not Refund.objects.exists()

    workers.start()
    took = until_drained(
        workers, "the refund", lambda: Refund.objects.filter(status="paid").exists()
    )

    refund = Refund.objects.get()
    assert (refund.invoice_id, refund.status, refund.eligible) == (
        second_order.invoice_id,
        "paid",
        1500,
    )
    assert LedgerTransaction.objects.count() == before + 1
    assert account_credit(alice).amount == 1500
    first_order.refresh_from_db()
    second_order.refresh_from_db()
    assert (first_order.status, second_order.status) == ("completed", "rejected")
    job.refresh_from_db()
    assert (job.status, len(job.worker_ids)) == ("SUCCESSFUL", 2)
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    mails = mail_sent_once(rig)
    observed("refund", runs=2, refunds=1, ledger_txns=1, mails=sum(mails.values()), took=took)


def test_a_worker_killed_mid_sweep_batch_keeps_the_batches_before_and_redoes_the_rest_once(
    rig: Rig, alice: User, product: Product, staff: User
) -> None:
    # Six licenses overdue since long: the worker's sweep walks each through blocked and
    # canceled to deleted, two a batch, voiding their renewal invoices as it deletes them.
    licenses = licenses_bought(alice, product, staff, 6, days_ago=200)
    invoices = [renewal_invoice(lic) for lic in licenses]
    workers = rig.workers(LICENSARY_SWEEP_BATCH="2")

    with row_locks() as lock:
        # Deleting licenses 3 and 4 (the second delete batch) locks their renewal invoices.
        invoice = lock(
            f"SELECT id FROM {Invoice._meta.db_table} WHERE id = %s FOR UPDATE", (invoices[2].pk,)
        )
        first = workers.start()
        waiting_for(workers, "the second delete batch to wait for an invoice", invoice.waiting)
        head = lock(HEAD)
        invoice.release()
        # Its UPDATE has moved licenses 3 and 4 to deleted; it waits to write their entries.
        waiting_for(workers, "the batch to wait for the audit head", head.waiting)
        waiting_for(workers, "the mail of the earlier batches", drained)
        first.kill()
    left = [lic.status for lic in License.objects.order_by("pk")]
    assert left == ["deleted", "deleted", "canceled", "canceled", "canceled", "canceled"], left

    workers.start()
    took = until_drained(
        workers,
        "every license deleted",
        lambda: not License.objects.exclude(status="deleted").exists(),
    )

    for lic in licenses:
        for action in ("license.blocked", "license.canceled", "license.deleted"):
            assert audit_count(action, "license", lic.pk) == 1, (lic.pk, action)
    for voided in invoices:
        voided.refresh_from_db()
        assert voided.status == "void"
        assert audit_count("invoice.voided", "invoice", voided.pk) == 1
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    mails = mail_sent_once(rig)
    observed(
        "sweep",
        committed_before="2 of 6 deleted",
        transitions=18,
        mails=sum(mails.values()),
        took=took,
    )


def test_a_worker_killed_mid_webhook_batch_sends_each_message_again_only_with_its_webhook_id(
    rig: Rig, carol: User, dave: User, product: Product, staff: User
) -> None:
    licenses = licenses_bought(dave, product, staff, 3, days_ago=31)
    receiver = HookReceiver()
    receiver.start()
    try:
        endpoint, secret = endpoint_create(
            actor=carol, url=receiver.url, events=["license.blocked"]
        )
        sweep()  # blocks the three: one webhook job for the three messages
        messages = list(WebhookMessage.objects.order_by("pk"))
        assert len(messages) == 3
        receiver.hang_at = 2
        # A claimed attempt is in flight for 3 x the timeout (6 s), inside the lease (7 s): the
        # job a fresh worker takes over finds the message free.
        workers = rig.workers(lease=7, LICENSARY_WEBHOOK_TIMEOUT_SECONDS="2")

        first = workers.start()
        waiting_for(workers, "the second message to reach the receiver", receiver.hung.is_set)
        first.kill()
        receiver.release.set()
        assert [m.status for m in WebhookMessage.objects.order_by("pk")] == [
            "succeeded",
            "pending",
            "pending",
        ]

        workers.start()
        took = until_drained(
            workers,
            "every message delivered",
            lambda: not WebhookMessage.objects.exclude(status="succeeded").exists(),
        )
    finally:
        receiver.stop()

    came = Counter(request.webhook_id for request in receiver.requests)
    assert came == {messages[0].webhook_id: 1, messages[1].webhook_id: 2, messages[2].webhook_id: 1}
    hook = Webhook(secret)
    bodies: dict[str, set[bytes]] = {}
    for request in receiver.requests:
        hook.verify(request.body, request.headers)  # each signed, the repeat too
        bodies.setdefault(request.webhook_id, set()).add(request.body)
    assert all(len(same) == 1 for same in bodies.values())  # a repeat is the same event
    effects = set(came)  # what a receiver that deduplicates by webhook-id acts on
    assert effects == {m.webhook_id for m in messages}
    assert {lic.pk for lic in licenses} == {int(m.object_id) for m in messages}
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    mails = mail_sent_once(rig)
    observed(
        "webhook",
        requests=sum(came.values()),
        repeats=sum(came.values()) - len(came),
        effects=len(effects),
        mails=sum(mails.values()),
        took=took,
        endpoint=endpoint.pk,
    )


def test_a_worker_killed_mid_mail_batch_sends_the_rest_and_repeats_only_the_one_in_flight(
    rig: Rig, alice: User, product: Product, staff: User
) -> None:
    licenses_bought(alice, product, staff, 3, days_ago=31)
    sweep()  # blocks the three: one mail job, three mails over one SMTP session
    rig.smtp.stall_at = 2
    workers = rig.workers()

    first = workers.start()
    waiting_for(workers, "the SMTP server to hold the second mail", rig.smtp.stalled.is_set)
    first.kill()
    rig.smtp.release.set()
    rows = list(MailMessage.objects.exclude(pk__in=rig.mailed_here).order_by("pk"))
    assert [row.status for row in rows] == ["sent", "sending", "pending"]
    in_flight = message_id(rows[1])

    workers.start()
    took = until_drained(
        workers,
        "every mail sent",
        lambda: not MailMessage.objects.exclude(status="sent").exists(),
    )

    came = mail_sent_once(rig, in_flight=in_flight)
    assert came == {message_id(rows[0]): 1, in_flight: 2, message_id(rows[2]): 1}
    assert {row.event for row in rows} == {"license_blocked"}
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    observed("mail", messages=3, received=sum(came.values()), repeats=1, took=took)


def test_a_worker_killed_after_the_supplier_sold_the_license_never_buys_it_twice(
    rig: Rig, alice: User, staff: User
) -> None:
    simulator = make_server("127.0.0.1", 0, slow_seconds=1.5)
    adds: list[str] = []
    add = simulator.state.add

    def counted_add(ip: str, *args: Any, **kwargs: Any) -> Any:
        adds.append(ip)
        return add(ip, *args, **kwargs)

    simulator.state.add = counted_add  # type: ignore[method-assign]
    thread = threading.Thread(target=simulator.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    control = Control(simulator.url)
    try:
        account = SupplierAccount(
            name="north", base_url=simulator.url, username="sim", timeout_seconds=20
        )
        account.set_password("sim")
        account.save()
        cpanel = product_create(
            actor=staff,
            slug="cpanel-solo",
            name="cPanel Solo",
            kind="manufacturer",
            manufacturer="cPanel",
            price=2000,
            setup_fee=0,
            suppliers=["north"],
            upstream_package="P1",
        )
        # The supplier sells the license, then takes 10 s to say so.
        control.fault("slow", function="XMLlicenseAdd", seconds=10)
        order = paid_order(alice, cpanel, staff)
        workers = rig.workers()

        first = workers.start()
        waiting_for(workers, "the supplier to have sold the license", lambda: adds)
        first.kill()
        [op] = UpstreamOperation.objects.all()
        assert (op.status, op.attempts) == ("pending", 1)  # the intent, without its outcome
        order.refresh_from_db()
        assert order.status == "processing"

        workers.start()
        took = until_drained(
            workers,
            "the order to be delivered",
            lambda: Order.objects.filter(pk=order.pk, status="completed").exists(),
        )
        upstream = control.licenses()
    finally:
        control.http.close()
        simulator.shutdown()
        simulator.server_close()
        thread.join(timeout=5)

    assert adds == [PUBLIC_IP]  # one purchase, ever
    [sold] = upstream
    lic = License.objects.get()
    assert (lic.upstream_supplier, lic.upstream_reference, lic.ip) == (
        "north",
        sold["licenseid"],
        PUBLIC_IP,
    )
    op.refresh_from_db()
    assert (op.status, op.attempts, op.reference) == ("succeeded", 2, sold["licenseid"])
    assert audit_count("order.completed", "order", order.pk) == 1
    job = the_job(deliver_order)
    assert (job.status, len(job.worker_ids)) == ("SUCCESSFUL", 2)
    every_job_completed_once()
    the_ledger_balances()
    the_audit_chain_holds()
    mails = mail_sent_once(rig)
    observed(
        "supplier",
        purchases=len(adds),
        upstream_licenses=len(upstream),
        mails=sum(mails.values()),
        took=took,
    )
