"""The intent log of calls to suppliers (`UpstreamOperation`), written before each call.

No vendor takes idempotency keys, so the intent (with our own op_id) is committed before the
supplier is called and its outcome after. A worker that dies in between leaves the intent
pending; the retry reuses its op_id, and the adapter looks the IP up before adding, so a lost
call is never made twice. The callers (orders' delivery, licenses' upstream sync and IP
change) say which order or license a call is for by id.
"""

import uuid

from django.db import transaction
from django.utils import timezone

from licensary.suppliers.models import UpstreamOperation


def operation_start(
    *,
    supplier: str,
    operation: str,
    ip: str,
    order_id: int | None = None,
    license_id: int | None = None,
    reference: str = "",
) -> UpstreamOperation:
    """The pending intent for this call, reusing one left by a previous attempt.

    `reference` is the upstream license the call is about, when it is about one.
    """
    with transaction.atomic():
        op = (
            UpstreamOperation.objects.select_for_update()
            .filter(
                supplier=supplier,
                operation=operation,
                status=UpstreamOperation.Status.PENDING,
                order=order_id,  # by id; None matches a call for no order (IS NULL)
                license=license_id,
                ip=ip,
            )
            .first()
        )
        if op is None:
            op = UpstreamOperation.objects.create(
                op_id=uuid.uuid4().hex,
                supplier=supplier,
                operation=operation,
                order_id=order_id,
                license_id=license_id,
                ip=ip,
                reference=reference,
                created_at=timezone.now(),
            )
        UpstreamOperation.objects.filter(pk=op.pk).update(attempts=op.attempts + 1)
    return op


def operation_finish(
    op: UpstreamOperation, *, ok: bool, reference: str = "", error: str = ""
) -> None:
    UpstreamOperation.objects.filter(pk=op.pk).update(
        status=UpstreamOperation.Status.SUCCEEDED if ok else UpstreamOperation.Status.FAILED,
        reference=reference,
        error=error[:500],
        finished_at=timezone.now(),
    )
