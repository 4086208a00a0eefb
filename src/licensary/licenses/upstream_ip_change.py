"""Moving a manufacturer license to another IP at its supplier, before it moves here (rule 11).

`license_change_ip` records the intent (`ip_change_intent`, in its transaction, with a job
that settles the change later), commits, asks the supplier (`ip_change_call`, outside any
transaction), and changes the IP here only once the supplier accepted, closing the intent in
that same transaction (`ip_change_done`). So the two sides never disagree silently: a refusal
changes nothing on either side, and a change the supplier made that never completed here (the
request died, the answer was lost) is undone upstream by the settling job.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from licensary.jobs.tasks import durable_task
from licensary.licenses import events as license_events
from licensary.licenses.models import License
from licensary.licenses.upstream import upstream_sync_enqueue
from licensary.suppliers.base import (
    IpTakenUpstream,
    Rejected,
    SupplierError,
    SupplierUnavailable,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
)
from licensary.suppliers.models import UpstreamOperation
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter, supplier_alert

# Well past the longest a request can spend asking (a timed-out call and the lookup after it).
SETTLE_AFTER = timedelta(minutes=5)


def ip_change_intent(*, license: License, new_ip: str) -> UpstreamOperation:
    """Record that `license` is being moved to `new_ip` upstream (in the caller's transaction,
    which commits before the supplier is called)."""
    op = operation_start(
        supplier=license.upstream_supplier,
        operation="change_ip",
        ip=new_ip,
        license_id=license.pk,
        reference=license.upstream_reference,
    )
    ip_change_settle.using(run_after=timezone.now() + SETTLE_AFTER).enqueue(op_id=op.op_id)
    return op


def ip_change_call(*, op: UpstreamOperation, license: License, new_ip: str) -> UpstreamLicense:
    """Ask the supplier to move `license` from its IP to `new_ip` (outside any transaction).

    Raises the supplier's error when it refused or could not be reached (the intent is closed
    as failed), or `UnknownOutcome` when its answer was lost and the license is not found on
    `new_ip` (the intent stays pending: a retry reuses its op_id, and the settling job
    decides otherwise). Closing as failed relies on the adapter's contract: `Transient` and
    the refusals mean nothing happened upstream; once its mutating call may have been sent,
    an adapter answers the outcome it knows or raises `UnknownOutcome`, never `Transient`.
    """
    name = license.upstream_supplier
    try:
        adapter = supplier_adapter(name)
        try:
            return adapter.change_ip(
                op.op_id, license.upstream_reference, license.product, license.ip, new_ip
            )
        except UnknownOutcome as lost:
            try:
                moved = adapter.find(license.product, new_ip)  # did the lost call act?
            except SupplierError:
                raise lost from None  # still unknown: the intent stays pending
            if moved is not None and moved.reference == license.upstream_reference:
                return moved
            raise
    except (IpTakenUpstream, Rejected, SupplierUnavailable, Transient) as exc:
        operation_finish(op, ok=False, reference=license.upstream_reference, error=str(exc))
        if isinstance(exc, SupplierUnavailable):
            supplier_alert(name, f"license {license.pk}: {exc.reason}")
        raise


def ip_change_still_pending(*, op_id: str) -> bool:
    """Lock the intent and say whether it may still be completed here: the settling job may
    have closed it while the supplier was being asked (in the caller's transaction, after the
    license's row lock, the order the settling job takes them in)."""
    op = UpstreamOperation.objects.select_for_update().get(op_id=op_id)
    return op.status == UpstreamOperation.Status.PENDING


def ip_change_done(*, op_id: str, moved: UpstreamLicense) -> None:
    """Close the pending intent with the IP change here (in the transaction that makes it,
    the intent locked by `ip_change_still_pending`)."""
    op = UpstreamOperation.objects.get(op_id=op_id)
    assert op.status == UpstreamOperation.Status.PENDING, f"{op_id} is {op.status}"
    operation_finish(op, ok=True, reference=moved.reference)


def ip_change_abandon(*, op_id: str, reason: str) -> None:
    """The change is not made here although the supplier made it: close the intent and move
    the license back upstream to its IP here (in the caller's transaction; the move is a job).

    An intent the settling job closed first keeps its outcome, and the move back is queued
    again all the same: the job's own may have run before the supplier acted on our call.
    """
    op = UpstreamOperation.objects.select_for_update().get(op_id=op_id)
    assert op.license_id is not None  # an IP change's intent is always a license's
    if op.status == UpstreamOperation.Status.PENDING:
        operation_finish(op, ok=False, reference=op.reference, error=reason)
    upstream_sync_enqueue([op.license_id], old_ip=op.ip)


@durable_task
def ip_change_settle(*, op_id: str) -> str:
    """A while after an IP change was sent upstream: if it never completed here, the intent
    closes as failed and the job that makes upstream follow the license's IP here again is
    queued in that transaction (a no-op when the supplier never moved it)."""
    op = UpstreamOperation.objects.get(op_id=op_id)
    if op.status != UpstreamOperation.Status.PENDING:
        return f"{op_id} {op.status}"
    assert op.license_id is not None
    with transaction.atomic():
        # The license before its intent, the order the IP change itself locks them in.
        lic = License.objects.select_for_update().get(pk=op.license_id)
        op = UpstreamOperation.objects.select_for_update().get(pk=op.pk)
        if op.status != UpstreamOperation.Status.PENDING:
            return f"{op_id} {op.status}"
        operation_finish(
            op,
            ok=False,
            reference=op.reference,
            error="never completed here: upstream follows the license's IP",
        )
        license_events.license_ip_change_abandoned(lic, asked_ip=op.ip)
        # Queued with the intent's close, not called here: the intent is no longer pending
        # once this commits, so a failed call here would never be retried.
        upstream_sync_enqueue([lic.pk], old_ip=op.ip)
    return f"{op_id} settled"
