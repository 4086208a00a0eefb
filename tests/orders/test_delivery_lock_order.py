"""RELIABILITY "Concurrency": money is locked in one order (credit book, invoice, its refunds,
then the order, then the license). A delivery holds the order's lock; the refund of an order it
refuses as an own duplicate must not then reach back for the credit book while a staff
rejection of that order holds the book and waits for the order: on PostgreSQL that deadlocks.
The refund runs after the rejection commits, in a job that locks money first."""

import time

import pytest
from django.db import OperationalError, connection

from licensary.billing.models import Refund
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders import delivery as order_delivery
from licensary.orders import services as order_services
from licensary.orders.delivery import order_retry
from licensary.orders.models import Order
from licensary.orders.services import order_create, order_reject
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, give_credit, run_jobs

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def deadlocks() -> int:
    """PostgreSQL's count of deadlocks detected in this database (its statistics are flushed
    by each backend within about a second)."""
    time.sleep(1.2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_rule14_retrying_an_own_duplicate_while_staff_reject_it_never_deadlocks(
    alice, bob, product, staff, monkeypatch
):
    require_postgres()
    for account in (bob, alice):
        give_credit(account, 1500, staff)
        order = order_create(actor=account, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=order.invoice, actor=account)
        run_jobs()
    held = Order.objects.get(account=alice)
    assert held.status == "on_hold"
    License.objects.filter(account=bob).update(account=alice)  # now alice's own duplicate
    real_holder = order_services.license_live_holder

    def slow_holder(**kwargs):
        time.sleep(0.5)
        return real_holder(**kwargs)

    for module in (order_delivery, order_services):  # the delivery's check and the hold's
        monkeypatch.setattr(module, "license_live_holder", slow_holder)

    def either(i: int):
        if i == 0:
            return order_retry(order=held, actor=staff)
        time.sleep(0.1)  # the retry has the order locked by now
        return order_reject(order=held, actor=staff, note="duplicate")

    before = deadlocks()
    results = run_concurrently(either, 2)

    assert not [e for e in errors(results) if isinstance(e, OperationalError)], results
    assert deadlocks() == before  # none, not even one a retry hid
    run_jobs()
    assert Order.objects.get(pk=held.pk).status == "rejected"
    assert list(
        Refund.objects.filter(invoice=held.invoice, status="paid").values_list(
            "eligible", flat=True
        )
    ) == [1500]
    assert account_credit(alice).amount == 1500
