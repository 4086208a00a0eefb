"""An upstream reference belongs to one live license (RELIABILITY, Verification; rules 3 and 5).

A manufacturer license ordered again on the IP of a deleted one gets the deleted one's upstream
license back (the adapter looks the IP up before adding). From then on the deleted license
never acts on it: not its late sync jobs, not `reconcile --fix`.
"""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from licensary.audit.models import AuditEntry
from licensary.audit.services import audit_verify
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.licenses.upstream import license_sync_upstream, upstream_holder_recheck
from licensary.orders.delivery import order_deliver_now
from licensary.orders.models import Order
from licensary.suppliers.manage2 import Manage2Supplier
from licensary.suppliers.models import UpstreamOperation
from licensary.suppliers.registry import supplier_adapter
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, run_jobs
from tests.suppliers.simulated import paid_order

pytestmark = pytest.mark.django_db


def upstream_status(control, reference: str) -> int:
    return next(x["status"] for x in control.licenses() if x["licenseid"] == reference)


def delivered(alice, cpanel, staff, ip: str = PUBLIC_IP) -> License:
    order = paid_order(alice, cpanel, staff, ip=ip)
    run_jobs()
    return Order.objects.get(pk=order.pk).license


def past_deletion(lic: License):
    return time_machine.travel(lic.period_end + timedelta(days=200), tick=False)


def test_rule5_reordered_license_survives_its_deleted_predecessors_late_terminate(
    alice, cpanel, staff, north
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    with past_deletion(old) as clock:
        # One failure for each of the three sweep steps' syncs (blocked, canceled, deleted).
        north.fault("http_500", function="XMLlicenseExpire", count=3)
        sweep()
        run_jobs()  # the terminate fails and waits for its retry
        old.refresh_from_db()
        assert (old.status, upstream_status(north, reference)) == ("deleted", 1)

        new = delivered(alice, cpanel, staff)  # the adapter finds and reuses the old license
        assert new.upstream_reference == reference

        clock.shift(timedelta(minutes=10))
        run_jobs()  # the deleted license's terminate comes back

    new.refresh_from_db()
    assert (new.status, new.upstream_status, new.upstream_in_step) == ("active", "active", True)
    assert upstream_status(north, reference) == 1
    old.refresh_from_db()
    assert (old.upstream_reference, old.upstream_former_reference) == ("", reference)


def test_rule5_reused_reference_is_released_by_the_deleted_license_with_its_history(
    alice, cpanel, staff, north
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    with past_deletion(old):
        sweep()
        run_jobs()
        assert upstream_status(north, reference) == 2  # terminated (expired) upstream

        new = delivered(alice, cpanel, staff)

    assert (new.upstream_reference, upstream_status(north, reference)) == (reference, 1)
    old.refresh_from_db()
    assert (old.upstream_supplier, old.upstream_reference) == ("north", "")
    assert old.upstream_former_reference == reference
    assert old.upstream_in_step
    released = AuditEntry.objects.get(
        object_type="license", object_id=str(old.pk), action="license.upstream_released"
    )
    assert released.before == {"upstream_reference": reference}
    assert released.after == {
        "upstream_reference": "",
        "upstream_former_reference": reference,
        "held_by": new.pk,
    }
    history = api_for(alice).get(f"/licenses/{old.pk}/history?limit=200").json_body["items"]
    assert "license.upstream_released" in [entry["action"] for entry in history]


def test_rule5_reconcile_fix_leaves_a_reordered_license_active(alice, cpanel, staff, north, capsys):
    old = delivered(alice, cpanel, staff)
    with past_deletion(old):
        sweep()
        run_jobs()
        new = delivered(alice, cpanel, staff)

        call_command("reconcile", supplier="north", fix=True)
        call_command("reconcile", supplier="north")

    assert capsys.readouterr().out.splitlines()[-1] == "== north: 0 difference(s)"
    assert upstream_status(north, new.upstream_reference) == 1
    new.refresh_from_db()
    assert (new.status, new.upstream_status) == ("active", "active")


def test_rule5_deleted_row_still_holding_a_live_reference_is_ignored_by_sync_and_reconcile(
    alice, cpanel, staff, north, capsys
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    with past_deletion(old):
        sweep()
        run_jobs()
        new = delivered(alice, cpanel, staff)
        # A row left from before references were released: deleted, still naming it.
        License.objects.filter(pk=old.pk).update(
            upstream_reference=reference, upstream_status="active"
        )

        assert license_sync_upstream(license_id=old.pk) == 0
        call_command("reconcile", supplier="north", fix=True)

    assert "0 difference(s)" in capsys.readouterr().out
    assert upstream_status(north, reference) == 1
    assert License.objects.get(pk=new.pk).upstream_status == "active"


def test_rule5_terminate_that_lands_after_a_reorder_reused_the_reference_is_undone(
    alice, cpanel, staff, north, monkeypatch
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    real_terminate = Manage2Supplier.terminate

    with past_deletion(old):
        sweep()  # queues the deleted license's terminate
        second = paid_order(alice, cpanel, staff)

        def reorder_delivered_first(self, op_id: str, ref: str) -> None:
            # The new order is delivered after the terminate passed its checks and before
            # its call reaches the vendor.
            monkeypatch.setattr(Manage2Supplier, "terminate", real_terminate)
            order_deliver_now(order_id=second.pk, actor=None)
            real_terminate(self, op_id, ref)

        monkeypatch.setattr(Manage2Supplier, "terminate", reorder_delivered_first)
        license_sync_upstream(license_id=old.pk)
        new = Order.objects.get(pk=second.pk).license
        assert new.upstream_reference == reference
        assert upstream_status(north, reference) == 2  # the late terminate hit it
        run_jobs()  # the live holder is checked and brought back

    assert upstream_status(north, reference) == 1
    new.refresh_from_db()
    assert (new.upstream_status, new.upstream_in_step) == ("active", True)


def test_rule3_staff_cannot_approve_an_order_onto_a_reference_a_live_license_holds(
    alice, bob, cpanel, staff, north
):
    held = delivered(alice, cpanel, staff)
    north.foreign(OTHER_IP, "P1")
    order = paid_order(bob, cpanel, staff, ip=OTHER_IP)
    run_jobs()
    assert Order.objects.get(pk=order.pk).hold_reason == "ip_registered_upstream"

    answer = api_for(staff).post(
        f"/orders/{order.pk}/approve",
        {"supplier": "north", "upstream_reference": held.upstream_reference},
    )

    assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
    assert f"license {held.pk}" in answer.json_body["detail"]
    assert Order.objects.get(pk=order.pk).status == "on_hold"
    assert License.objects.filter(upstream_reference=held.upstream_reference).count() == 1


def test_rule15_upstream_recheck_of_a_live_holder_is_in_its_history(alice, cpanel, staff, north):
    held = delivered(alice, cpanel, staff)
    cause = "a terminate for license 7 reached it after the reference passed on"

    with transaction.atomic():
        upstream_holder_recheck(supplier="north", reference=held.upstream_reference, cause=cause)

    entry = AuditEntry.objects.get(
        object_type="license", object_id=str(held.pk), action="license.upstream_recheck"
    )
    assert (entry.actor_label, entry.account_id, entry.reason) == (
        "system:supplier",
        alice.pk,
        cause,
    )
    assert entry.before == {"upstream_status": "active", "upstream_error": ""}
    assert entry.after == {"upstream_status": "unknown", "upstream_error": cause}


def test_rule2_order_held_for_a_reference_a_live_license_holds_puts_that_license_right(
    alice, bob, cpanel, staff, north
):
    held = delivered(alice, cpanel, staff)
    # Upstream, alice's license went to OTHER_IP behind our back (here it is on PUBLIC_IP).
    supplier_adapter("north").change_ip(
        "op-drift", held.upstream_reference, cpanel, PUBLIC_IP, OTHER_IP
    )
    order = paid_order(bob, cpanel, staff, ip=OTHER_IP)

    run_jobs()  # the delivery finds alice's upstream license on OTHER_IP and holds the order

    order.refresh_from_db()
    assert (order.status, order.hold_reason) == ("on_hold", "ip_registered_here")
    assert f"belongs to license {held.pk}" in order.hold_detail
    assert [(x["licenseid"], x["ip"]) for x in north.licenses()] == [
        (held.upstream_reference, PUBLIC_IP)
    ]  # the holder's sync moved it back
    held.refresh_from_db()
    assert (held.ip, held.upstream_status, held.upstream_in_step) == (PUBLIC_IP, "active", True)
    recheck = AuditEntry.objects.get(
        object_type="license", object_id=str(held.pk), action="license.upstream_recheck"
    )
    assert recheck.after["upstream_status"] == "unknown"
    assert f"order {order.pk}" in recheck.reason


def test_rule3_database_keeps_one_live_holder_per_upstream_reference(alice, cpanel, staff, north):
    first = delivered(alice, cpanel, staff)
    second = delivered(alice, cpanel, staff, ip=OTHER_IP)

    with pytest.raises(IntegrityError), transaction.atomic():
        License.objects.filter(pk=second.pk).update(upstream_reference=first.upstream_reference)

    # A deleted row may keep naming it (history); the constraint is about live holders.
    License.objects.filter(pk=second.pk).update(
        status="deleted", blocked_at=second.period_end, upstream_reference=first.upstream_reference
    )


def test_rule5_terminate_whose_worker_died_after_a_reorder_is_undone_by_its_retry(
    alice, cpanel, staff, north, monkeypatch
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    real_terminate = Manage2Supplier.terminate

    with past_deletion(old):
        sweep()
        second = paid_order(alice, cpanel, staff)

        def reorder_then_die(self, op_id: str, ref: str) -> None:
            monkeypatch.setattr(Manage2Supplier, "terminate", real_terminate)
            order_deliver_now(order_id=second.pk, actor=None)
            real_terminate(self, op_id, ref)
            raise KeyboardInterrupt("worker killed before the outcome was recorded")

        monkeypatch.setattr(Manage2Supplier, "terminate", reorder_then_die)
        with pytest.raises(KeyboardInterrupt):
            license_sync_upstream(license_id=old.pk)
        assert upstream_status(north, reference) == 2
        stranded = UpstreamOperation.objects.get(license=old, operation="terminate")
        assert (stranded.status, stranded.reference) == ("pending", reference)

        run_jobs()  # the deleted license's queued sync finds what its dead call may have done

    assert upstream_status(north, reference) == 1
    assert UpstreamOperation.objects.get(pk=stranded.pk).status == "failed"
    new = License.objects.get(pk=Order.objects.get(pk=second.pk).license_id)
    assert (new.upstream_reference, new.upstream_status) == (reference, "active")


MIGRATION_0006 = importlib.import_module(
    "licensary.licenses.migrations.0006_upstream_reference_one_live_holder"
)


def two_live_holders_of_one_reference(alice, bob, cpanel, staff) -> tuple[License, License]:
    """What the code before migration 0006 could leave: two live licenses, one reference."""
    first = delivered(alice, cpanel, staff)
    second = delivered(bob, cpanel, staff, ip=OTHER_IP)
    with connection.cursor() as cursor:  # the constraint 0006 adds; back at the test's end
        cursor.execute("DROP INDEX licenses_license_one_live_holder_per_upstream_reference")
    License.objects.filter(pk=second.pk).update(upstream_reference=first.upstream_reference)
    return first, second


def test_rule3_migration_0006_stops_on_two_live_holders_and_says_what_to_do(
    alice, bob, cpanel, staff, north
):
    first, second = two_live_holders_of_one_reference(alice, bob, cpanel, staff)

    with pytest.raises(RuntimeError) as stopped:
        MIGRATION_0006.release_reused_references(django_apps, None)

    message = str(stopped.value)
    assert f"north:{first.upstream_reference} (licenses [{first.pk}, {second.pk}])" in message
    assert "licensary reconcile --shared-references" in message
    assert "licensary migrate" in message
    assert License.objects.get(pk=second.pk).upstream_reference == first.upstream_reference


def test_rule3_reconcile_shared_references_lists_them_and_which_one_the_supplier_has(
    alice, bob, cpanel, staff, north, capsys
):
    first, second = two_live_holders_of_one_reference(alice, bob, cpanel, staff)

    call_command("reconcile", shared_references=True)

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "== 1 upstream license(s) held by more than one live license"
    assert out[1] == f"north {first.upstream_reference}: north has it on {PUBLIC_IP}"
    assert out[2].split() == [
        "license",
        str(first.pk),
        "account",
        str(alice.pk),
        PUBLIC_IP,
        "active",
        "keeps",
        "it",
    ]
    assert out[3].split()[:6] == [
        "license",
        str(second.pk),
        "account",
        str(bob.pk),
        OTHER_IP,
        "active",
    ]
    assert "own upstream license" in out[3]


def test_rule3_reconcile_shared_references_says_when_there_are_none(
    alice, cpanel, staff, north, capsys
):
    delivered(alice, cpanel, staff)

    call_command("reconcile", shared_references=True)

    assert capsys.readouterr().out.splitlines() == [
        "== 0 upstream license(s) held by more than one live license"
    ]


def test_rule15_migration_0006_release_of_a_reused_reference_is_in_the_history(
    alice, cpanel, staff, north
):
    old = delivered(alice, cpanel, staff)
    reference = old.upstream_reference
    with past_deletion(old):
        sweep()
        run_jobs()
        new = delivered(alice, cpanel, staff)
    # A row left from before references were released: deleted, still naming it.
    License.objects.filter(pk=old.pk).update(
        upstream_reference=reference, upstream_former_reference=""
    )

    MIGRATION_0006.release_reused_references(django_apps, None)

    old.refresh_from_db()
    assert (old.upstream_reference, old.upstream_former_reference) == ("", reference)
    entries = AuditEntry.objects.filter(
        object_type="license",
        object_id=str(old.pk),
        action="license.upstream_released",
        actor_label="system:migration",
    )
    assert [(e.before, e.after, e.account_id) for e in entries] == [
        (
            {"upstream_reference": reference},
            {"upstream_reference": "", "upstream_former_reference": reference, "held_by": new.pk},
            alice.pk,
        )
    ]
    assert audit_verify().first_broken is None
