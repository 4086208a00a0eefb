"""`Idempotency-Key` for POSTs that create orders, payments, deposits, refunds, transfers."""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Model
from ninja import Status

from licensary.core.errors import IdempotencyConflict, ValidationFailed
from licensary.core.http import AuthedRequest
from licensary.core.models import IdempotencyRecord


def idempotent(handler: Callable[..., Status]) -> Callable[..., Status]:
    """Run the handler once per (account, key); replay its first answer afterwards.

    The record is inserted first, in the handler's own transaction: a concurrent request with
    the same key waits on the unique index and then replays the committed answer; a request
    that fails rolls its record back, so a failed request stores nothing.
    """

    @functools.wraps(handler)
    def wrapper(request: AuthedRequest[Model], *args: Any, **kwargs: Any) -> Status:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(request, *args, **kwargs)
        if not key or len(key) > 200 or not key.isprintable():
            raise ValidationFailed("Idempotency-Key must be 1 to 200 printable characters.")
        digest = hashlib.sha256(
            b"%s %s\n" % ((request.method or "").encode(), request.path.encode()) + request.body
        ).hexdigest()
        account_id = request.auth.pk
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        account_id=account_id, key=key, request_hash=digest
                    )
            except IntegrityError:
                # Another request holds (or held) the key: it has committed by now.
                record = IdempotencyRecord.objects.get(account_id=account_id, key=key)
                if record.request_hash != digest:
                    raise IdempotencyConflict(
                        "This Idempotency-Key was used with another request."
                    ) from None
                return Status(record.status_code, record.body)
            answer = handler(request, *args, **kwargs)
            record.status_code, record.body = answer.status_code, _jsonable(answer.value)
            record.save(update_fields=["status_code", "body"])
            # The first answer is the stored one, so a replay renders byte for byte the same
            # (a time with microseconds under one millisecond renders "...49.000Z" from the
            # datetime but "...49Z" from its stored text).
            return Status(answer.status_code, record.body)

    return wrapper


def _jsonable(body: Any) -> Any:
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json")
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))
