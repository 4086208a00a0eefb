"""Every change is an event: its audit entry is written and it is announced (`audit.bus`)
under the entry's action, in order, naming the objects it changed. What agent webhooks and
mail subscribe to is exactly what the audit log says happened."""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from licensary.audit.bus import EVERY, Announcement, subscribe, unsubscribe
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_with_credit
from licensary.licenses.models import License
from licensary.licenses.services import license_renewal_invoice
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import OTHER_IP, PUBLIC_IP, give_credit, run_jobs

START = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RENEWED_END = START + 60 * DAY  # one period bought with the order, one with the renewal
ANNOUNCED_ONLY = {"invoice.reminder_due"}  # not a change of state: no audit entry


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def before_the_flow(alice, bob, product, staff) -> None:
    """Alice's credit, and an order of Bob's: her order and her license differ in id."""
    give_credit(alice, 2500, staff)
    order_create(actor=bob, product=product, ip=OTHER_IP)


@pytest.fixture
def heard() -> Iterator[list[Announcement]]:
    """Every announcement made while the test runs, in order."""
    announcements: list[Announcement] = []
    subscribe(EVERY, announcements.append)
    yield announcements
    unsubscribe(EVERY, announcements.append)


def walk_the_lifecycle(clock, alice, product) -> tuple[Order, License, list[Invoice]]:
    """Order, pay with credit, deliver, renew and pay, then let the next renewal go unpaid
    until the sweep blocks the license; the order, the license and its three invoices."""
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    order.refresh_from_db()
    lic = License.objects.get(pk=order.license_id)

    renewal = license_renewal_invoice(license=lic, actor=alice)
    invoice_pay_with_credit(invoice=renewal, actor=alice)
    run_jobs()

    clock.move_to(RENEWED_END - 7 * DAY)
    sweep()
    run_jobs()
    [unpaid] = Invoice.objects.filter(
        purpose=Invoice.Purpose.RENEWAL, status=Invoice.Status.UNPAID, lines__license=lic
    )
    clock.move_to(RENEWED_END)
    sweep()
    run_jobs()
    lic.refresh_from_db()
    assert lic.status == License.Status.BLOCKED
    return order, lic, [order.invoice, renewal, unpaid]


def test_a_license_lifecycle_is_announced_in_order_naming_its_objects(
    clock, alice, bob, product, staff, heard
):
    before_the_flow(alice, bob, product, staff)
    heard.clear()

    order, lic, (order_invoice, renewal, unpaid) = walk_the_lifecycle(clock, alice, product)

    important = {
        "order.created",
        "order.processing",
        "order.completed",
        "invoice.issued",
        "invoice.paid",
        "invoice.reminder_due",
        "license.issued",
        "license.renewed",
        "license.blocked",
    }
    assert [(a.name, a.object_type, a.object_ids) for a in heard if a.name in important] == [
        ("invoice.issued", "invoice", (str(order_invoice.pk),)),
        ("order.created", "order", (str(order.pk),)),
        ("invoice.paid", "invoice", (str(order_invoice.pk),)),
        ("order.processing", "order", (str(order.pk),)),
        ("license.issued", "license", (str(lic.pk),)),
        ("order.completed", "order", (str(order.pk),)),
        ("invoice.issued", "invoice", (str(renewal.pk),)),
        ("invoice.paid", "invoice", (str(renewal.pk),)),
        ("license.renewed", "license", (str(lic.pk),)),
        ("invoice.issued", "invoice", (str(unpaid.pk),)),
        ("invoice.reminder_due", "invoice", (str(unpaid.pk),)),
        ("license.blocked", "license", (str(lic.pk),)),
    ]
    assert [dict(a.data) for a in heard if a.name == "invoice.reminder_due"] == [{"stage": 1}]


def test_every_audit_entry_of_the_lifecycle_was_announced_under_its_action(
    clock, alice, bob, product, staff, heard
):
    before_the_flow(alice, bob, product, staff)
    heard.clear()
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()

    walk_the_lifecycle(clock, alice, product)

    written = Counter(
        AuditEntry.objects.filter(id__gt=before).values_list("action", "object_type", "object_id")
    )
    announced = Counter(
        (a.name, a.object_type, object_id)
        for a in heard
        if a.name not in ANNOUNCED_ONLY
        for object_id in a.object_ids
    )
    assert written == announced
    assert {action for action, _, _ in written} >= {
        "order.created",
        "order.completed",
        "invoice.paid",
        "license.renewed",
        "license.blocked",
    }
