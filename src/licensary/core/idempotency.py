"""`Idempotency-Key` for POSTs that create orders, payments, deposits, refunds, transfers."""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, overload

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Model
from ninja import Status

from licensary.core.crypto import seal, unseal
from licensary.core.errors import IdempotencyConflict, ValidationFailed
from licensary.core.http import AuthedRequest
from licensary.core.models import IdempotencyRecord

Handler = Callable[..., Status]
SEALED = b"idempotency-answer"


@overload
def idempotent(handler: Handler) -> Handler: ...
@overload
def idempotent(*, sealed: tuple[str, ...]) -> Callable[[Handler], Handler]: ...
def idempotent(
    handler: Handler | None = None, *, sealed: tuple[str, ...] = ()
) -> Handler | Callable[[Handler], Handler]:
    """Run the handler once per (account, key); replay its first answer afterwards.

    The record is inserted first, in the handler's own transaction: a concurrent request with
    the same key waits on the unique index and then replays the committed answer; a request
    that fails rolls its record back, so a failed request stores nothing.

    `sealed` names fields of the answer that are secrets shown once (a webhook's signing
    secret): the replay shows them again, and the stored answer keeps them encrypted.
    """
    if handler is None:
        return functools.partial(_idempotent, sealed=sealed)
    return _idempotent(handler, sealed=sealed)


def _idempotent(handler: Handler, *, sealed: tuple[str, ...]) -> Handler:
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
                return Status(record.status_code, _unsealed(record.body, sealed))
            answer = handler(request, *args, **kwargs)
            body = _jsonable(answer.value)
            record.status_code, record.body = answer.status_code, _sealed(body, sealed)
            record.save(update_fields=["status_code", "body"])
            # The first answer is the stored one, so a replay renders byte for byte the same
            # (a time with microseconds under one millisecond renders "...49.000Z" from the
            # datetime but "...49Z" from its stored text).
            return Status(answer.status_code, body)

    return wrapper


def _jsonable(body: Any) -> Any:
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json")
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))


def _sealed(body: Any, fields: tuple[str, ...]) -> Any:
    if not fields or not isinstance(body, dict):
        return body
    return {
        k: seal(SEALED, v.encode()) if k in fields and isinstance(v, str) else v
        for k, v in body.items()
    }


def _unsealed(body: Any, fields: tuple[str, ...]) -> Any:
    if not fields or not isinstance(body, dict):
        return body
    return {
        k: unseal(SEALED, v).decode() if k in fields and isinstance(v, str) else v
        for k, v in body.items()
    }
