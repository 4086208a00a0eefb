"""Rule 5 under concurrency (PostgreSQL): two sweepers at once split the due licenses and make
every transition exactly once, while another writer's entries join the same audit chain."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count

from licensary.audit.models import AuditDigest, AuditEntry
from licensary.audit.services import Change, audit_record, audit_verify
from licensary.billing.models import InvoiceLine
from licensary.billing.services import invoice_pay_with_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import SweepReport, sweep
from licensary.orders.services import order_create
from tests.helpers import give_credit, run_jobs
from tests.licenses.support import START, public_ip

LICENSES = 200


@pytest.fixture
def postgresql(db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has a single writer, so sweepers cannot overlap")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_make_each_transition_exactly_once_in_one_audit_chain(
    postgresql, clock, alice, product, staff
):
    give_credit(alice, LICENSES * 1500, staff)
    for n in range(LICENSES):
        order = order_create(actor=alice, product=product, ip=public_ip(n))
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    ids = [str(pk) for pk in License.objects.values_list("pk", flat=True)]
    assert len(ids) == LICENSES
    clock.move_to(START + timedelta(days=200))  # every license is due for every step

    start = threading.Barrier(3)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            start.wait(timeout=30)
            reports.append(sweep(batch=10))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def single_writer() -> None:  # one entry per event, as every other writer does
        try:
            start.wait(timeout=30)
            for n in range(100):
                with transaction.atomic():
                    audit_record(Change(action="test.noted", object_type="thing", object_id=n))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    threads.append(threading.Thread(target=single_writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(reports) == 2
    assert all(report.total for report in reports)  # both took part
    for step in ("renewal_invoice", "block", "cancel", "delete"):
        assert sum(r.counts.get(step, 0) for r in reports) == LICENSES, step
    assert set(License.objects.values_list("status", flat=True)) == {"deleted"}
    per_license = (
        AuditEntry.objects.filter(
            object_type="license",
            object_id__in=ids,
            action__in=["license.blocked", "license.canceled", "license.deleted"],
        )
        .values("object_id", "action")
        .annotate(n=Count("id"))
    )
    assert len(per_license) == 3 * LICENSES
    assert {row["n"] for row in per_license} == {1}
    renewals = (
        InvoiceLine.objects.filter(kind="renewal").values("license_id").annotate(n=Count("id"))
    )
    assert len(renewals) == LICENSES
    assert {row["n"] for row in renewals} == {1}
    # A third sweep finds nothing left to do.
    assert sweep().total == 0
    # The sweepers' batches (one digest link each) and the single entries form one chain.
    assert AuditDigest.objects.exists()
    report = audit_verify()
    assert (report.checked, report.problem) == (AuditEntry.objects.count(), "")
