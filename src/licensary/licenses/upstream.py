"""Keeping a manufacturer license's upstream state in step with its lifecycle (rule 5).

blocked/canceled -> suspended upstream, renewed -> resumed (and renewed), deleted ->
terminated; and upstream follows the license's IP where the two differ (`reconcile --fix`, an
IP change that never completed here). The sync compares the state the license calls for with
the state recorded upstream and makes the one call that closes the gap, so running it again
(a retry, a second worker, `reconcile --fix`) never does anything twice.

An upstream reference belongs to one live license. Each call is a step: under the license's
row lock the step checks that the license still holds its reference (a deleted license whose
reference the same IP's new license reuses has released it, and an old row that still names
a reference a live license holds is ignored) and records its intent; the supplier is called
after commit; the outcome is recorded under a fresh lock that checks again. A suspend or
terminate that reached the supplier after its reference passed to a live license has that
license checked and put right.

The supplier adapters (`licensary.suppliers`) make the calls and answer; the state
they report is recorded here, on the license: only licenses writes the License table.
"""

import logging

from django.db import transaction

from licensary.jobs.tasks import durable_task, enqueue
from licensary.licenses import events as license_events
from licensary.licenses.models import License
from licensary.suppliers.base import IpTakenUpstream, Rejected, SupplierUnavailable
from licensary.suppliers.models import UpstreamOperation
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter, supplier_alert

logger = logging.getLogger(__name__)

# Recorded when we cannot vouch for the upstream state: the next sync makes the call the
# license's status wants, and every call is idempotent, so a needless one does no harm.
UNKNOWN = "unknown"

CALLS = {
    ("active", "suspended"): "resume",
    ("active", "expired"): "resume",
    ("active", UNKNOWN): "resume",
    ("suspended", "active"): "suspend",
    ("suspended", "expired"): None,  # an emulated suspend is an expiry: already in step
    ("suspended", UNKNOWN): "suspend",
    ("terminated", "active"): "terminate",
    ("terminated", "suspended"): "terminate",
    ("terminated", "expired"): "terminate",
    ("terminated", UNKNOWN): "terminate",
}
DONE = {"resume": "active", "renew": "active", "suspend": "suspended", "terminate": "terminated"}


def upstream_sync_enqueue(
    license_ids: list[int], *, renew: bool = False, old_ip: str | None = None
) -> None:
    """Queue the sync for those of `license_ids` that live upstream (in the caller's txn)."""
    ids = list(
        License.objects.filter(pk__in=license_ids, kind=License.Kind.MANUFACTURER)
        .exclude(upstream_supplier="")
        .exclude(upstream_reference="")
        .values_list("pk", flat=True)
    )
    if ids:
        enqueue(sync_upstream, license_ids=ids, renew=renew, old_ip=old_ip)


@durable_task
def sync_upstream(*, license_ids: list[int], renew: bool = False, old_ip: str | None = None) -> int:
    return sum(
        license_sync_upstream(license_id=pk, renew=renew, old_ip=old_ip) for pk in license_ids
    )


def upstream_live_holder(*, supplier: str, reference: str, lock: bool = False) -> License | None:
    """The live license that holds `reference` at `supplier` (at most one: a constraint)."""
    holders = License.objects.filter(
        upstream_supplier=supplier, upstream_reference=reference
    ).exclude(status=License.Status.DELETED)
    return (holders.select_for_update() if lock else holders).first()


def license_acts_upstream(lic: License) -> bool:
    """Whether `lic` may call its supplier about its reference: a manufacturer license that
    holds one and, when deleted, not one a live license holds."""
    if lic.kind != License.Kind.MANUFACTURER or not (
        lic.upstream_supplier and lic.upstream_reference
    ):
        return False
    return (
        lic.status != License.Status.DELETED
        or upstream_live_holder(supplier=lic.upstream_supplier, reference=lic.upstream_reference)
        is None
    )


def upstream_holder_recheck(
    *, supplier: str, reference: str, cause: str, old_ip: str | None = None
) -> License | None:
    """A call about `reference` (a terminate, as a rule) was made for a license that no longer
    holds it: the live holder's upstream state becomes unknown, with an entry in its history,
    and its sync is queued, which puts it back as its own status wants (in the caller's
    transaction). With `old_ip` (where upstream was seen to have it) the sync first moves it
    upstream to the holder's IP here."""
    holder = upstream_live_holder(supplier=supplier, reference=reference, lock=True)
    if holder is not None:
        error = cause[:300]
        License.objects.filter(pk=holder.pk).update(upstream_status=UNKNOWN, upstream_error=error)
        license_events.license_upstream_recheck(holder, status=UNKNOWN, error=error, cause=cause)
        logger.warning("license %s: %s; checking it upstream", holder.pk, cause)
        upstream_sync_enqueue([holder.pk], old_ip=old_ip if old_ip != holder.ip else None)
    return holder


def license_sync_upstream(
    *, license_id: int, renew: bool = False, old_ip: str | None = None
) -> int:
    """Make the calls that bring one license's upstream state in step; returns how many.

    With `old_ip` (where upstream has the license) the license is first moved upstream to its
    IP here. `Transient` and `UnknownOutcome` propagate (the job retries with the same op_id;
    every call is idempotent); `SupplierUnavailable` too, after it is recorded.
    """
    calls = 0
    if old_ip:
        calls += _sync_step(license_id=license_id, move_from=old_ip)
    return calls + _sync_step(license_id=license_id, renew=renew)


def _call_for(lic: License, *, renew: bool, move_from: str | None) -> str | None:
    if move_from is not None:
        moves = move_from != lic.ip and lic.status != License.Status.DELETED
        return "change_ip" if moves else None
    call = CALLS.get((lic.upstream_wanted, lic.upstream_status))
    if call is None and renew and lic.upstream_wanted == "active":
        call = "renew"
    return call


def _close_stranded(lic: License) -> None:
    """Calls of `lic` left pending (a worker died, an answer was lost) before it stopped acting
    upstream may still have reached the supplier: close them, and have whoever holds their
    reference now checked (in the caller's transaction)."""
    stranded = (
        UpstreamOperation.objects.select_for_update()
        .filter(license=lic, status=UpstreamOperation.Status.PENDING)
        .exclude(reference="")
    )
    for op in stranded:
        operation_finish(
            op,
            ok=False,
            reference=op.reference,
            error="superseded: the reference passed to a live license",
        )
        upstream_holder_recheck(
            supplier=op.supplier,
            reference=op.reference,
            cause=f"a {op.operation} for deleted license {lic.pk} may have reached it",
        )


def _sync_step(*, license_id: int, renew: bool = False, move_from: str | None = None) -> int:
    """One call at most: decide and record it under the lock, make it, record its outcome."""
    with transaction.atomic():
        lic = License.objects.select_for_update().select_related("product").get(pk=license_id)
        if not license_acts_upstream(lic):
            _close_stranded(lic)
            return 0
        call = _call_for(lic, renew=renew, move_from=move_from)
        if call is None:
            return 0
        supplier, reference, target = lic.upstream_supplier, lic.upstream_reference, lic.ip
        op = operation_start(
            supplier=supplier, operation=call, ip=target, license_id=lic.pk, reference=reference
        )
    try:
        adapter = supplier_adapter(supplier)
        if call == "change_ip":
            assert move_from is not None
            reached = adapter.change_ip(
                op.op_id, reference, lic.product, move_from, target
            ).reference
        else:
            getattr(adapter, call)(op.op_id, reference)
            reached = reference
    except (Rejected, SupplierUnavailable, IpTakenUpstream) as exc:
        with transaction.atomic():
            operation_finish(op, ok=False, reference=reference, error=str(exc))
            License.objects.filter(pk=license_id).update(upstream_error=str(exc)[:300])
        supplier_alert(supplier, f"license {license_id}: {exc.reason}")
        if isinstance(exc, SupplierUnavailable):
            raise  # may come back (credit topped up, account unlocked): retry with backoff
        return 0
    with transaction.atomic():
        lic = License.objects.select_for_update().get(pk=license_id)
        operation_finish(op, ok=True, reference=reached)
        if lic.upstream_reference != reference or not license_acts_upstream(lic):
            # Released while the call was on its way: it was no longer this license's to make.
            upstream_holder_recheck(
                supplier=supplier,
                reference=reference,
                cause=f"a {call} for license {lic.pk} reached it after the reference passed on",
            )
            return 1
        if call == "change_ip":
            License.objects.filter(pk=lic.pk).update(upstream_reference=reached, upstream_error="")
            if lic.ip != target:  # the license moved on meanwhile: upstream follows it
                upstream_sync_enqueue([lic.pk], old_ip=target)
        else:
            # The license may have moved on meanwhile; record what upstream now is, and let
            # the sync queued by that later change close any new gap.
            License.objects.filter(pk=lic.pk).update(upstream_status=DONE[call], upstream_error="")
    return 1
