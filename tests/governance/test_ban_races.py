"""A ban while the account pays and the sweep runs (PostgreSQL, real transactions): afterwards
no license of the banned account is active, nothing is refunded, and the money is where
exactly one side's outcome puts it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from licensary.accounts.models import User
from licensary.billing.models import Invoice, Payment, Refund
from licensary.billing.services import invoice_pay_with_credit
from licensary.governance.bans import account_ban
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.services import order_create
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import OTHER_IP, PUBLIC_IP, give_credit, run_jobs


@pytest.mark.django_db(transaction=True)
def test_rule6_a_ban_racing_a_payment_and_the_sweep_leaves_nothing_active(alice, product, staff):
    require_postgres()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        give_credit(alice, 5000, staff)
        first = order_create(actor=alice, product=product, ip=PUBLIC_IP)
        invoice_pay_with_credit(invoice=first.invoice, actor=alice)
        run_jobs()
        second = order_create(actor=alice, product=product, ip=OTHER_IP)
        clock.shift(timedelta(days=31))  # the first license is due to be blocked

        def work(i: int):
            if i == 0:
                return account_ban(account=alice, actor=staff, reason="sharing", note="race")
            if i == 1:
                return invoice_pay_with_credit(invoice=second.invoice, actor=alice)
            return sweep().total

        outcomes = run_concurrently(work, 3)
        run_jobs()

    assert isinstance(outcomes[0], User) and outcomes[0].status == "banned", outcomes[0]
    assert not License.objects.filter(account=alice, status="active").exists()
    assert set(License.objects.filter(account=alice).values_list("cancel_reason", flat=True)) == {
        "banned"
    }
    assert not Refund.objects.exists()
    invoice = Invoice.objects.get(pk=second.invoice_id)
    if Payment.objects.filter(invoice=invoice).exists():  # the payment won: 1,500 was taken
        assert invoice.status == "paid"
        assert account_credit(alice).amount == 5000 - 3000
    else:  # the ban won: the invoice is void and the credit untouched
        assert invoice.status == "void"
        assert getattr(outcomes[1], "code", None) in {"account_banned", "invalid_transition"}
        assert account_credit(alice).amount == 5000 - 1500
