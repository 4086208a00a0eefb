"""The delivery job is written in the payment's transaction: it exists if and only if the
payment committed (DESIGN rule 3: nothing lost if the process dies after commit)."""

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from licensary.billing.models import Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.core.errors import InsufficientCredit
from licensary.ledger.services import account_credit
from licensary.orders.delivery import deliver_order
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP, give_credit, run_jobs


class PaymentAbandoned(Exception):
    pass


def delivery_jobs() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=deliver_order.module_path))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_payment_leaves_no_delivery_job(alice, product, staff):
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)

    with pytest.raises(PaymentAbandoned), transaction.atomic():
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)
        assert len(delivery_jobs()) == 1  # written inside the payment's transaction
        raise PaymentAbandoned

    assert delivery_jobs() == []
    assert Invoice.objects.get(pk=order.invoice_id).status == "unpaid"
    assert Order.objects.get(pk=order.pk).status == "awaiting_payment"
    assert Payment.objects.count() == 0
    assert account_credit(alice).amount == 1500


@pytest.mark.django_db(transaction=True)
def test_a_refused_payment_leaves_no_delivery_job(alice, product, staff):
    give_credit(alice, 1499, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)

    with pytest.raises(InsufficientCredit):
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    assert delivery_jobs() == []
    assert Order.objects.get(pk=order.pk).status == "awaiting_payment"


@pytest.mark.django_db(transaction=True)
def test_a_committed_payment_leaves_exactly_one_delivery_job(alice, product, staff):
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)

    invoice_pay_with_credit(invoice=order.invoice, actor=alice)

    [job] = delivery_jobs()
    assert (job.status, job.args_kwargs["kwargs"]) == ("READY", {"order_id": order.pk})
    run_jobs()
    job.refresh_from_db()
    assert job.status == "SUCCESSFUL"
    assert Order.objects.get(pk=order.pk).status == "completed"
