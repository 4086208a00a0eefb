"""Rule 5 for manufacturer licenses (`licenses.upstream`): the license's upstream state
follows its lifecycle (blocked: suspended, renewed: resumed, deleted: terminated), recorded on
the license."""

from datetime import timedelta

import pytest
import time_machine

from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from tests.helpers import api_for, give_credit, run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db


def test_upstream_follows_the_lifecycle(alice, cpanel, staff, north):
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    lic = Order.objects.get(pk=order.pk).license

    def upstream_status() -> int:
        return next(
            x["status"] for x in north.licenses() if x["licenseid"] == lic.upstream_reference
        )

    with time_machine.travel(lic.period_end + timedelta(seconds=1), tick=False):
        sweep()
        run_jobs()
        assert upstream_status() == 2  # suspended (Manage2 has no suspend: expired)
        lic.refresh_from_db()
        assert (lic.status, lic.upstream_status, lic.upstream_in_step) == (
            "blocked",
            "suspended",
            True,
        )
        give_credit(alice, cpanel.price, staff)
        renewal = api_for(alice).post(f"/licenses/{lic.pk}/renew").json_body
        assert api_for(alice).post(f"/invoices/{renewal['id']}/pay-with-credit").status_code == 200
        run_jobs()
        assert upstream_status() == 1
        lic.refresh_from_db()
        assert (lic.status, lic.upstream_status) == ("active", "active")

    with time_machine.travel(lic.period_end + timedelta(days=200), tick=False):
        sweep()
        run_jobs()
        lic.refresh_from_db()
        assert (lic.status, lic.upstream_status, lic.upstream_in_step) == (
            "deleted",
            "terminated",
            True,
        )
        assert upstream_status() == 2
