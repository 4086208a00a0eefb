"""A renewal paid at the moment the sweep deletes its license: the payment is refused with
`license_deleted` and the sweep goes through; neither sees a deadlock (RELIABILITY
"Concurrency": rows are locked account, then invoice, then license)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from licensary.billing import services as billing_services
from licensary.billing.models import Invoice, Payment
from licensary.billing.services import invoice_pay_with_credit
from licensary.ledger.services import account_credit
from licensary.licenses import sweep as sweep_module
from licensary.licenses.models import License
from licensary.orders.services import order_create
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, give_credit, run_jobs


@pytest.mark.django_db(transaction=True)
def test_a_renewal_paid_while_the_sweep_deletes_its_license_is_refused_without_deadlock(
    alice, product, staff, monkeypatch
):
    require_postgres()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        give_credit(alice, 5000, staff)
        order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=order.invoice, actor=alice)
        run_jobs()
        clock.shift(timedelta(days=24))
        sweep_module.sweep()  # issues the renewal invoice
        renewal = Invoice.objects.get(purpose="renewal")
        clock.shift(timedelta(days=30))
        sweep_module.sweep()  # blocked, then canceled
        assert License.objects.get().status == "canceled"
        clock.shift(timedelta(days=100))  # past renewable_until; the sweep has not run yet

        # Make the two transactions meet where they used to deadlock: the sweep holding the
        # license and the payment holding the invoice, each then reaching for the other's row.
        # With invoices locked before licenses, one of them waits for the other instead, and
        # the hook below times out.
        sweep_holds_license, payment_holds_invoice = threading.Event(), threading.Event()
        void_open_renewals, invoice_on_paid = (
            sweep_module._void_open_renewals,
            billing_services.invoice_on_paid,
        )

        def void_after_the_payment_locked_its_invoice(ids):
            sweep_holds_license.set()
            payment_holds_invoice.wait(3)
            return void_open_renewals(ids)

        def check_after_the_sweep_locked_the_license(**kwargs):
            if kwargs["check_only"]:
                sweep_holds_license.wait(3)
                payment_holds_invoice.set()
            return invoice_on_paid(**kwargs)

        monkeypatch.setattr(
            sweep_module, "_void_open_renewals", void_after_the_payment_locked_its_invoice
        )
        monkeypatch.setattr(
            billing_services, "invoice_on_paid", check_after_the_sweep_locked_the_license
        )

        def work(i: int):
            if i == 0:
                return sweep_module.sweep().counts.get("delete", 0)
            return invoice_pay_with_credit(invoice=renewal, actor=alice)

        swept, paid = run_concurrently(work, 2)

    assert License.objects.get().status == "deleted"
    assert swept == 1, swept  # not a deadlock
    # Whichever locked the invoice first: the payment finds the license deleted, or the
    # invoice already voided by the sweep. Never a deadlock, never money taken.
    assert getattr(paid, "code", paid) in {"license_deleted", "invalid_transition"}, paid
    assert Invoice.objects.get(pk=renewal.pk).status == "void"
    assert account_credit(alice).amount == 5000 - 1500
    assert not Payment.objects.filter(invoice=renewal).exists()
