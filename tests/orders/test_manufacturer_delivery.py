"""Rule 2 for manufacturer licenses (`orders.delivery`): suppliers in failover order, holds
with their cause, and exactly one upstream license whatever is lost on the way."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

import licensary.orders.delivery as delivery
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.suppliers.models import UpstreamOperation
from tests.helpers import PUBLIC_IP, api_for, run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db


def test_paid_manufacturer_order_is_delivered_by_the_first_supplier(
    alice, cpanel, staff, north, south
):
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert order.status == "completed"
    lic = order.license
    assert (lic.kind, lic.upstream_supplier, lic.upstream_status) == (
        "manufacturer",
        "north",
        "active",
    )
    assert [(x["ip"], x["status"]) for x in north.licenses()] == [(PUBLIC_IP, 1)]
    assert south.licenses() == []
    shown = api_for(alice).get(f"/licenses/{lic.pk}").json_body["upstream"]
    assert shown == {
        "supplier": "north",
        "reference": lic.upstream_reference,
        "status": "active",
        "in_step": True,
        "error": "",
    }


def test_out_of_stock_supplier_fails_over_to_the_next(alice, cpanel, staff, north, south):
    north.fault("out_of_stock", count=5)
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert (order.status, order.license.upstream_supplier) == ("completed", "south")
    assert north.licenses() == []
    assert len(south.licenses()) == 1


def test_no_supplier_left_holds_the_order_as_supplier_unavailable(
    alice, cpanel, staff, north, south
):
    north.fault("out_of_stock", count=5)
    south.fault("out_of_stock", count=5)
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "supplier_unavailable")
    assert order.held_at is not None
    assert "north" in order.hold_detail and "south" in order.hold_detail


def test_ip_registered_upstream_holds_without_failing_over(alice, cpanel, staff, north, south):
    north.foreign(PUBLIC_IP, "P1")
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "ip_registered_upstream")
    assert south.licenses() == []  # never failed over


def test_server_error_is_retried_with_backoff_then_delivered(alice, cpanel, staff, north):
    north.fault("http_500", count=1)
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    order.refresh_from_db()
    assert order.status == "processing"  # the retry waits for its backoff

    with time_machine.travel(order.created_at + timedelta(minutes=5)):
        run_jobs()
    order.refresh_from_db()
    assert order.status == "completed"
    assert len(north.licenses()) == 1


def test_answer_dropped_after_the_supplier_acted_buys_exactly_one_license(
    alice, cpanel, staff, north, south
):
    north.fault("drop_after_act", ip=PUBLIC_IP, count=1)
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert order.status == "completed"
    assert len(north.licenses()) == 1
    assert south.licenses() == []


def test_slow_answer_after_acting_buys_exactly_one_license(alice, cpanel, staff, north, south):
    north.fault("slow", count=1, function="XMLlicenseAdd")
    order = paid_order(alice, cpanel, staff)
    run_jobs()

    order.refresh_from_db()
    assert order.status == "completed"
    assert len(north.licenses()) == 1 and south.licenses() == []


def test_worker_killed_after_the_supplier_acted_restarts_into_one_license(
    alice, cpanel, staff, north, south, monkeypatch
):
    def killed(**kwargs):
        raise KeyboardInterrupt("worker killed between the supplier's answer and our commit")

    order = paid_order(alice, cpanel, staff)
    # A worker claims the delivery job and dies after the supplier acted: the job row stays
    # RUNNING, nothing is recorded here, no retry is queued.
    job = DBTaskResult.objects.get(task_path="licensary.orders.delivery.deliver_order")
    DBTaskResult.objects.filter(pk=job.pk).update(
        status="RUNNING", started_at=timezone.now(), worker_ids=["worker-that-died"]
    )
    monkeypatch.setattr(delivery, "order_complete", killed)
    with pytest.raises(KeyboardInterrupt):
        delivery.deliver_order.func(order_id=order.pk)
    monkeypatch.undo()
    assert len(north.licenses()) == 1
    assert UpstreamOperation.objects.get().status == "pending"
    order.refresh_from_db()
    assert order.status == "processing"
    run_jobs()
    assert DBTaskResult.objects.get(pk=job.pk).status == "RUNNING"  # within its lease

    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        sweep()  # gives the dead worker's job back to the queue
        run_jobs()  # the restarted job reuses the same op_id and finds the license

    order.refresh_from_db()
    assert order.status == "completed"
    assert len(north.licenses()) == 1
    assert south.licenses() == []
    assert UpstreamOperation.objects.get().status == "succeeded"


def test_staff_retry_with_one_supplier_delivers_a_held_order(alice, cpanel, staff, north, south):
    north.fault("out_of_stock", count=1)  # north would deliver a plain retry
    south.fault("out_of_stock", count=1)
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    order.refresh_from_db()
    assert order.status == "on_hold"

    answer = api_for(staff).post(f"/orders/{order.pk}/retry", {"supplier": "south"})

    assert answer.status_code == 200, answer.json_body
    assert answer.json_body["status"] == "completed"
    assert len(south.licenses()) == 1 and north.licenses() == []


def test_staff_approve_registers_the_upstream_license_by_hand(alice, cpanel, staff, north):
    north.foreign(PUBLIC_IP, "P1")
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    api = api_for(staff)

    incomplete = api.post(f"/orders/{order.pk}/approve", {"note": "checked by phone"})
    assert (incomplete.status_code, incomplete.json_body["code"]) == (422, "validation_error")

    approved = api.post(
        f"/orders/{order.pk}/approve",
        {"note": "vendor moved it", "supplier": "north", "upstream_reference": "L-HAND-1"},
    )
    assert approved.status_code == 200, approved.json_body
    lic = License.objects.get(pk=approved.json_body["license"])
    assert (lic.upstream_supplier, lic.upstream_reference) == ("north", "L-HAND-1")
