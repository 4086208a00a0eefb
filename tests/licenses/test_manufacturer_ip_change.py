"""Rule 11 for manufacturer licenses: the IP moves upstream first, and here only once the
supplier accepted. A refusal changes nothing on either side, uses up no change, and answers
with the supplier's reason as a code."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

import licensary.licenses.services as services
from licensary.audit.models import AuditEntry
from licensary.licenses.models import License
from licensary.licenses.reconcile import reconcile
from licensary.licenses.sweep import run_steps
from licensary.orders.models import Order
from licensary.suppliers.models import UpstreamOperation
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db
THIRD_IP = "149.112.112.112"


@pytest.fixture
def lic(alice, cpanel, staff, north) -> License:
    order = paid_order(alice, cpanel, staff)
    run_jobs()
    return Order.objects.get(pk=order.pk).license


def upstream_ips(control) -> list[str]:
    return [x["ip"] for x in control.licenses()]


def change_ip(user, lic: License, ip: str):
    return api_for(user).post(f"/licenses/{lic.pk}/change-ip", {"ip": ip})


def test_rule11_ip_change_refused_upstream_leaves_both_sides_on_the_old_ip(alice, lic, north):
    north.fault("ip_taken", function="XMLtransfer", ip=OTHER_IP)

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (409, "ip_registered_upstream")
    assert "another company" in answer.json_body["detail"]
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (PUBLIC_IP, 0)
    assert upstream_ips(north) == [PUBLIC_IP]
    run_jobs()
    assert upstream_ips(north) == [PUBLIC_IP]
    assert License.objects.get(pk=lic.pk).ip == PUBLIC_IP
    refused = AuditEntry.objects.get(
        object_type="license", object_id=str(lic.pk), action="license.ip_change_refused"
    )
    assert refused.after["code"] == "ip_registered_upstream"
    assert refused.after["ip"] == OTHER_IP


def test_rule11_refused_ip_changes_use_up_none_of_the_three(alice, lic, north):
    north.fault("ip_taken", function="XMLtransfer", ip=OTHER_IP, count=3)
    for _ in range(3):
        assert change_ip(alice, lic, OTHER_IP).json_body["code"] == "ip_registered_upstream"

    moved = change_ip(alice, lic, OTHER_IP)

    assert moved.status_code == 200, moved.json_body
    assert moved.json_body["ip"] == OTHER_IP
    assert License.objects.get(pk=lic.pk).ip_changes_in_period == 1
    assert upstream_ips(north) == [OTHER_IP]


def test_rule11_ip_change_with_the_supplier_down_changes_nothing_and_says_so(alice, lic, north):
    north.fault("http_500", function="XMLtransfer")

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (503, "supplier_unavailable")
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (PUBLIC_IP, 0)
    assert upstream_ips(north) == [PUBLIC_IP]
    assert UpstreamOperation.objects.get(operation="change_ip").status == "failed"


def test_rule11_ip_change_accepted_upstream_moves_both_sides(alice, lic, north):
    answer = change_ip(alice, lic, OTHER_IP)

    assert answer.status_code == 200, answer.json_body
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period, lic.upstream_in_step) == (OTHER_IP, 1, True)
    assert upstream_ips(north) == [OTHER_IP]
    assert UpstreamOperation.objects.get(operation="change_ip").status == "succeeded"


def test_ip_change_moves_the_license_upstream(alice, lic, north):
    services.license_change_ip(license=lic, ip=OTHER_IP, actor=alice)
    run_jobs()

    assert [x["ip"] for x in north.licenses()] == [OTHER_IP]


def test_rule11_answer_lost_after_the_supplier_moved_it_completes_the_change(alice, lic, north):
    north.fault("drop_after_act", function="XMLtransfer")

    answer = change_ip(alice, lic, OTHER_IP)

    assert answer.status_code == 200, answer.json_body
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (OTHER_IP, 1)
    assert upstream_ips(north) == [OTHER_IP]


def test_rule11_lookup_failing_after_the_supplier_moved_it_completes_the_change(alice, lic, north):
    # The lookup before the transfer passes; the one after it (confirming the move) fails.
    north.fault("http_500", function="XMLlookup", ip=OTHER_IP, skip=1)

    answer = change_ip(alice, lic, OTHER_IP)

    assert answer.status_code == 200, answer.json_body
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (OTHER_IP, 1)
    assert upstream_ips(north) == [OTHER_IP]
    assert UpstreamOperation.objects.get(operation="change_ip").status == "succeeded"


def die_after_the_supplier_moved_it(alice, lic: License, monkeypatch) -> None:
    """A request killed between the supplier's answer and our commit: upstream on OTHER_IP,
    the license here on PUBLIC_IP, its intent pending."""
    import licensary.licenses.services as services

    def killed(**kwargs):
        raise KeyboardInterrupt("worker killed between the supplier's answer and our commit")

    with monkeypatch.context() as patch:
        patch.setattr(services, "_ip_change_apply", killed)
        with pytest.raises(KeyboardInterrupt):
            services.license_change_ip(license=lic, ip=OTHER_IP, actor=alice)


def test_rule11_ip_change_that_dies_after_the_supplier_moved_it_is_moved_back(
    alice, lic, north, monkeypatch
):
    die_after_the_supplier_moved_it(alice, lic, monkeypatch)
    assert upstream_ips(north) == [OTHER_IP]
    assert License.objects.get(pk=lic.pk).ip == PUBLIC_IP

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        run_jobs()  # the settling job, queued with the intent, finds it never completed here

    assert upstream_ips(north) == [PUBLIC_IP]
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (PUBLIC_IP, 0)
    assert UpstreamOperation.objects.get(operation="change_ip", ip=OTHER_IP).status == "failed"
    assert (
        AuditEntry.objects.filter(
            object_type="license", object_id=str(lic.pk), action="license.ip_change_abandoned"
        ).count()
        == 1
    )


def test_rule11_settle_job_moves_it_back_even_when_the_supplier_fails_once(
    alice, lic, north, monkeypatch
):
    die_after_the_supplier_moved_it(alice, lic, monkeypatch)
    north.fault("http_500", function="XMLtransfer", ip=PUBLIC_IP)

    with time_machine.travel(timezone.now() + timedelta(minutes=10)) as clock:
        run_jobs()  # settles the intent; the move back fails once
        assert upstream_ips(north) == [OTHER_IP]
        clock.shift(timedelta(minutes=10))
        run_jobs()  # the move back, retried

    assert upstream_ips(north) == [PUBLIC_IP]
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period, lic.upstream_in_step) == (PUBLIC_IP, 0, True)
    assert UpstreamOperation.objects.get(operation="change_ip", ip=OTHER_IP).status == "failed"
    assert (
        AuditEntry.objects.filter(
            object_type="license", object_id=str(lic.pk), action="license.ip_change_abandoned"
        ).count()
        == 1
    )


def settle_due() -> None:
    """Run the jobs due once the settle job's delay has passed (the settle job among them)."""
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        run_jobs()


@pytest.mark.parametrize("settled", ["before_the_call_landed", "after_the_call_landed"])
def test_rule11_ip_change_settled_while_the_request_completes_is_refused_and_moved_back(
    alice, lic, north, monkeypatch, settled
):
    real_call = services.ip_change_call

    def slow_request(**kwargs):
        # The settle job (and the move back it queues) runs while this request is still
        # on its way: before the supplier acted, or after it answered and before we commit.
        if settled == "before_the_call_landed":
            settle_due()
        moved = real_call(**kwargs)
        if settled == "after_the_call_landed":
            settle_due()
        return moved

    monkeypatch.setattr(services, "ip_change_call", slow_request)

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (409, "ip_change_abandoned")
    lic.refresh_from_db()
    assert (lic.ip, lic.ip_changes_in_period) == (PUBLIC_IP, 0)
    assert UpstreamOperation.objects.get(operation="change_ip", ip=OTHER_IP).status == "failed"
    run_jobs()
    assert upstream_ips(north) == [PUBLIC_IP]
    assert License.objects.get(pk=lic.pk).upstream_in_step
    refused = AuditEntry.objects.get(
        object_type="license", object_id=str(lic.pk), action="license.ip_change_refused"
    )
    assert refused.after == {"ip": OTHER_IP, "code": "ip_change_abandoned"}


def test_rule11_license_blocked_while_the_supplier_moved_it_keeps_its_ip_both_sides(
    alice, lic, north, monkeypatch
):
    real_call = services.ip_change_call

    def blocked_meanwhile(**kwargs):
        moved = real_call(**kwargs)
        run_steps(now=lic.period_end + timedelta(hours=1), license_ids=[lic.pk])  # the sweep
        return moved

    monkeypatch.setattr(services, "ip_change_call", blocked_meanwhile)

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (409, "invalid_transition")
    lic.refresh_from_db()
    assert (lic.status, lic.ip, lic.ip_changes_in_period) == ("blocked", PUBLIC_IP, 0)
    run_jobs()
    assert [(x["ip"], x["status"]) for x in north.licenses()] == [(PUBLIC_IP, 2)]  # suspended
    assert UpstreamOperation.objects.get(operation="change_ip", ip=OTHER_IP).status == "failed"


def test_rule11_reconcile_fix_leaves_an_ip_change_in_flight_alone(alice, lic, north, monkeypatch):
    real_call = services.ip_change_call
    found = []

    def reconciled_meanwhile(**kwargs):
        moved = real_call(**kwargs)  # upstream is on OTHER_IP; here it is not yet
        found.extend(reconcile(supplier="north", fix=True))
        return moved

    monkeypatch.setattr(services, "ip_change_call", reconciled_meanwhile)

    answer = change_ip(alice, lic, OTHER_IP)

    assert answer.status_code == 200, answer.json_body
    assert [(d.problem, d.fixed) for d in found] == [
        ("ip_differs", "left alone: an IP change is in flight")
    ]
    assert upstream_ips(north) == [OTHER_IP]
    assert License.objects.get(pk=lic.pk).ip == OTHER_IP


def test_rule3_ip_change_onto_a_live_slot_is_refused_before_the_supplier_is_asked(
    alice, bob, cpanel, staff, lic, north
):
    paid_order(bob, cpanel, staff, ip=OTHER_IP)
    run_jobs()

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (409, "ip_taken")
    assert sorted(upstream_ips(north)) == sorted([PUBLIC_IP, OTHER_IP])
    assert not UpstreamOperation.objects.filter(operation="change_ip").exists()


def test_rule11_the_fourth_ip_change_of_a_period_never_reaches_the_supplier(alice, lic, north):
    for ip in (OTHER_IP, THIRD_IP, PUBLIC_IP):
        assert change_ip(alice, lic, ip).status_code == 200

    answer = change_ip(alice, lic, OTHER_IP)

    assert (answer.status_code, answer.json_body["code"]) == (409, "ip_change_limit")
    assert upstream_ips(north) == [PUBLIC_IP]
    assert UpstreamOperation.objects.filter(operation="change_ip").count() == 3
