"""`licensary reconcile` (`licenses.reconcile`): our manufacturer licenses compared with a
supplier's list, and `--fix` repairing each difference."""

import pytest
from django.core.management import call_command

from licensary.orders.models import Order
from tests.helpers import PUBLIC_IP, run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db


def test_reconcile_finds_and_fixes_both_kinds_of_drift(alice, cpanel, staff, north, capsys):
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    lic = Order.objects.get(pk=order.pk).license
    north.expire(lic.upstream_reference)  # expired upstream, active here
    north.http.post(
        "/XMLlicenseAdd.cgi",
        params={"ip": "8.8.8.8", "packageid": "P1", "output": "json"},
        auth=("sim", "sim"),
    )

    call_command("reconcile", supplier="north")
    report = capsys.readouterr().out
    assert "inactive_upstream_active_here" in report
    assert "unknown_here" in report and "8.8.8.8" in report

    call_command("reconcile", supplier="north", fix=True)
    assert {(x["ip"], x["status"]) for x in north.licenses()} == {(PUBLIC_IP, 1), ("8.8.8.8", 2)}
    call_command("reconcile", supplier="north")
    assert "0 difference(s)" in capsys.readouterr().out.splitlines()[-1]
