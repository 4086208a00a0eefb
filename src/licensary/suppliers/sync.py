"""Keeping a manufacturer license's upstream state in step with its lifecycle (rule 5).

blocked/canceled -> suspended upstream, renewed -> resumed (and renewed), deleted ->
terminated, IP changed -> changed upstream. The sync compares the state the license calls
for with the state recorded upstream and makes the one call that closes the gap, so running
it again (a retry, a second worker, `reconcile --fix`) never does anything twice.
"""

import logging

from licensary.jobs.tasks import durable_task, enqueue
from licensary.licenses.models import License
from licensary.suppliers.base import Rejected, SupplierUnavailable
from licensary.suppliers.delivery import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter, supplier_alert

logger = logging.getLogger(__name__)

CALLS = {
    ("active", "suspended"): "resume",
    ("active", "expired"): "resume",
    ("suspended", "active"): "suspend",
    ("suspended", "expired"): None,  # an emulated suspend is an expiry: already in step
    ("terminated", "active"): "terminate",
    ("terminated", "suspended"): "terminate",
    ("terminated", "expired"): "terminate",
}


def upstream_sync_enqueue(license_ids: list[int], *, renew: bool = False,
                          old_ip: str | None = None) -> None:
    """Queue the sync for those of `license_ids` that live upstream (in the caller's txn)."""
    ids = list(License.objects.filter(pk__in=license_ids, kind=License.Kind.MANUFACTURER)
               .exclude(upstream_supplier="").values_list("pk", flat=True))
    if ids:
        enqueue(sync_upstream, license_ids=ids, renew=renew, old_ip=old_ip)


@durable_task
def sync_upstream(*, license_ids: list[int], renew: bool = False,
                  old_ip: str | None = None) -> int:
    return sum(license_sync_upstream(license_id=pk, renew=renew, old_ip=old_ip)
               for pk in license_ids)


def _record(lic: License, **fields: str) -> None:
    License.objects.filter(pk=lic.pk).update(**fields)
    for key, value in fields.items():
        setattr(lic, key, value)


def license_sync_upstream(*, license_id: int, renew: bool = False,
                          old_ip: str | None = None) -> int:
    """Make the calls that bring one license's upstream state in step; returns how many.

    `Transient` and `UnknownOutcome` propagate (the job retries; every call is idempotent).
    """
    lic = License.objects.select_related("product").get(pk=license_id)
    if lic.kind != License.Kind.MANUFACTURER or not lic.upstream_supplier:
        return 0
    name = lic.upstream_supplier
    calls = 0
    try:
        adapter = supplier_adapter(name)
        if old_ip and old_ip != lic.ip and lic.status != License.Status.DELETED:
            op = operation_start(supplier=name, operation="change_ip", ip=lic.ip, license=lic)
            moved = adapter.change_ip(op.op_id, lic.upstream_reference, lic.product, old_ip,
                                      lic.ip)
            operation_finish(op, ok=True, reference=moved.reference)
            _record(lic, upstream_reference=moved.reference)
            calls += 1
        call = CALLS.get((lic.upstream_wanted, lic.upstream_status))
        if call is None and renew and lic.upstream_wanted == "active":
            call = "renew"
        if call is not None:
            op = operation_start(supplier=name, operation=call, ip=lic.ip, license=lic)
            getattr(adapter, call)(op.op_id, lic.upstream_reference)
            operation_finish(op, ok=True, reference=lic.upstream_reference)
            calls += 1
        # The license may have moved on meanwhile; record what upstream now is, and let the
        # sync queued by that later change close any new gap.
        done = {"resume": "active", "renew": "active", "suspend": "suspended",
                "terminate": "terminated"}
        _record(lic, upstream_status=done.get(call or "", lic.upstream_status),
                upstream_error="")
    except (Rejected, SupplierUnavailable) as exc:
        _record(lic, upstream_error=str(exc)[:300])
        supplier_alert(name, f"license {lic.pk}: {exc.reason}")
        if isinstance(exc, SupplierUnavailable):
            raise  # may come back (credit topped up, account unlocked): retry with backoff
    return calls
