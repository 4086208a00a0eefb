"""`licensary reconcile` draws a progress bar over the suppliers on a terminal only, and
prints its summary either way, after the bar."""

import io

import pytest
from django.core.management import call_command

from licensary.orders.models import Order
from tests.helpers import run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    """What the command writes to, as a terminal would report itself."""

    def isatty(self) -> bool:
        return True


def drifted(alice, cpanel, staff, north) -> None:
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    north.expire(Order.objects.get(pk=order.pk).license.upstream_reference)


def test_reconcile_into_a_pipe_prints_its_summary_and_no_bar(alice, cpanel, staff, north):
    drifted(alice, cpanel, staff, north)
    out = io.StringIO()

    call_command("reconcile", stdout=out)

    printed = out.getvalue()
    assert printed.startswith("== north: 1 difference(s)\n")
    assert "inactive_upstream_active_here" in printed
    assert "reconciling" not in printed and "\x1b" not in printed


def test_reconcile_on_a_terminal_draws_the_bar_then_prints_its_summary(alice, cpanel, staff, north):
    drifted(alice, cpanel, staff, north)
    out = Terminal()

    call_command("reconcile", stdout=out)

    printed = out.getvalue()
    assert "reconciling" in printed and "2/2" in printed  # north and south
    summary = printed.index("== north: 1 difference(s)")
    assert summary > printed.rindex("2/2")  # the report comes after the finished bar
    assert "inactive_upstream_active_here" in printed[summary:]
