"""A paid order's delivery runs before the jobs queued ahead of it (mails, webhooks): a burst
of payments queues a mail per order, and the customer waits on the delivery, not on the mail."""

import pytest

from licensary.billing.services import invoice_pay_with_credit
from licensary.jobs.runner import claim_next
from licensary.jobs.tasks import enqueue
from licensary.orders.delivery import deliver_order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, give_credit, run_jobs
from tests.jobs.tasks_for_tests import records_run


@pytest.mark.django_db
def test_a_delivery_queued_after_other_jobs_is_claimed_first(alice, product, staff):
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    run_jobs()  # the order's own mail: not what this test is about
    enqueue(records_run, label="a mail queued first")

    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    first = claim_next("worker-1")
    assert first is not None
    assert (first.task_path, first.args_kwargs["kwargs"]) == (
        deliver_order.module_path,
        {"order_id": order.pk},
    )
    second = claim_next("worker-1")
    assert second is not None
    assert second.task_path == records_run.module_path
