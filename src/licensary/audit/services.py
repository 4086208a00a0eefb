"""The only writer of the audit log."""

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from licensary.audit.models import AuditEntry, AuditHead
from licensary.core.middleware import current_request

GENESIS = "0" * 64


@dataclass
class Change:
    """An audit record before it joins the chain."""

    action: str
    object_type: str
    object_id: str | int  # a primary key as given; the entry stores its text
    actor: Any = None
    actor_label: str = ""
    account_id: int | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(_canonical(data))


_text = json.JSONEncoder(separators=(",", ":")).encode  # scalars: str, int, None


def _hash_body(
    *,
    prev: str,
    created_at: str,
    actor: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    account_id: int | None,
    before: str,
    after: str,
    reason: str,
    ip: str,
    request_id: str,
    text: Callable[[object], str] = _text,
) -> str:
    """The canonical JSON of an entry (keys sorted), assembled from already-canonical parts,
    byte for byte what `json.dumps(sort_keys=True)` makes of the stored entry."""
    return (
        f'{{"account_id":{text(account_id)},"action":{text(action)},'
        f'"actor":{text(actor)},"actor_label":{text(actor_label)},"after":{after},'
        f'"before":{before},"created_at":{text(created_at)},"ip":{text(ip)},'
        f'"object_id":{_text(object_id)},"object_type":{text(object_type)},'
        f'"prev":"{prev}","reason":{text(reason)},'
        f'"request_id":{text(request_id)}}}'
    )


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(
        _hash_body(
            prev=prev_hash,
            created_at=entry.created_at.isoformat(),
            actor=entry.actor_id,
            actor_label=entry.actor_label,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            account_id=entry.account_id,
            before=_canonical(entry.before),
            after=_canonical(entry.after),
            reason=entry.reason,
            ip=entry.ip,
            request_id=entry.request_id,
        ).encode()
    ).hexdigest()


COLUMNS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "account_id",
    "before",
    "after",
    "reason",
    "ip",
    "request_id",
    "prev_hash",
    "hash",
)


def audit_append(rows: list[tuple[Any, ...]], *, at: datetime | None = None) -> int:
    """Append entries to the chain, fast: the only writer of the audit table.

    Each row is (actor_id, actor_label, action, object_type, object_id, account_id,
    before_json, after_json, reason) with the JSON already canonical (`_canonical`). Runs in
    the caller's transaction; the head row is locked last in every transaction (after
    accounts, invoices and licenses), so it never joins a lock cycle, and concurrent writers
    still form one chain.
    """
    if not rows:
        return 0
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("audit records are written inside the change's own transaction")
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS})
        head = AuditHead.objects.select_for_update().get(pk=1)
    context = current_request()
    ip, request_id = context.get("ip", ""), context.get("request_id", "")
    created_at = at or timezone.now()
    # Most fields repeat across a batch (action, actor, reason...): encode each value once.
    text = functools.lru_cache(maxsize=1024)(_text)
    sha256 = hashlib.sha256
    stamp = created_at.isoformat()
    prev = head.last_hash
    records = []
    for actor, label, action, otype, oid, account, before, after, reason in rows:
        oid, reason = str(oid), reason[:200]
        digest = sha256(
            _hash_body(
                prev=prev,
                created_at=stamp,
                actor=actor,
                actor_label=label,
                action=action,
                object_type=otype,
                object_id=oid,
                account_id=account,
                before=before,
                after=after,
                reason=reason,
                ip=ip,
                request_id=request_id,
                text=text,
            ).encode()
        ).hexdigest()
        records.append(
            (
                created_at,
                actor,
                label,
                action,
                otype,
                oid,
                account,
                before,
                after,
                reason,
                ip,
                request_id,
                prev,
                digest,
            )
        )
        prev = digest
    _insert(connection, records)
    AuditHead.objects.filter(pk=1).update(last_hash=prev, count=head.count + len(rows))
    transaction.on_commit(lambda: _write_head_file(prev, head.count + len(rows)))
    return len(rows)


def _insert(connection: Any, records: list[tuple[Any, ...]]) -> None:
    table = AuditEntry._meta.db_table
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY in its text format, written as one buffer: no per-value adaptation.
            lines = "".join("\t".join(_copy_field(v) for v in record) + "\n" for record in records)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(lines.encode())
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            [(adapt(r[0]), *r[1:]) for r in records],
        )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def audit_record_many(changes: list[Change]) -> int:
    """Append `changes` to the chain (see `audit_append`)."""
    return audit_append(
        [
            (
                change.actor.pk if getattr(change.actor, "pk", None) else None,
                change.actor_label or _label(change.actor),
                change.action,
                change.object_type,
                change.object_id,
                change.account_id,
                _canonical(change.before),
                _canonical(change.after),
                change.reason,
            )
            for change in changes
        ]
    )


def audit_record(change: Change) -> None:
    audit_record_many([change])


def _label(actor: Any) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", str(actor))


def _write_head_file(last_hash: str, count: int) -> None:
    # Kept outside the database so that a cut-off tail of the table is detected.
    path = Path(settings.LICENSARY["AUDIT_HEAD_FILE"])
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{count} {last_hash}\n")
        tmp.replace(path)
    except OSError:
        pass


@dataclass
class ChainReport:
    checked: int
    first_broken: int | None
    problem: str


def audit_verify() -> ChainReport:
    """Walk the chain from the start; report the first entry whose hash does not hold."""
    prev = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=5000):
        if entry.prev_hash != prev:
            return ChainReport(checked, entry.pk, "prev_hash does not match the entry before")
        if entry_hash(prev, entry) != entry.hash:
            return ChainReport(checked, entry.pk, "hash does not match the entry's content")
        prev = entry.hash
        checked += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.last_hash != prev or head.count != checked):
        return ChainReport(checked, None, "the chain ends before the recorded head (tail cut)")
    path = Path(settings.LICENSARY["AUDIT_HEAD_FILE"])
    if path.exists():
        count_text, _, file_hash = path.read_text().strip().partition(" ")
        if int(count_text) > checked or (int(count_text) == checked and file_hash != prev):
            return ChainReport(checked, None, "the chain does not reach the head file's hash")
    return ChainReport(checked, None, "")
