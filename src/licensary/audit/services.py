"""The only writer of the audit log."""

import hashlib
import json
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
    object_id: str
    actor: Any = None
    actor_label: str = ""
    account_id: int | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    at: datetime | None = None


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(_canonical(data))


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = {
        "prev": prev_hash,
        "created_at": entry.created_at.isoformat(),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "account_id": entry.account_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "ip": entry.ip,
        "request_id": entry.request_id,
    }
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def audit_record_many(changes: list[Change]) -> list[AuditEntry]:
    """Append `changes` to the chain; must run inside the caller's transaction.

    The head row is locked last in every transaction (after accounts, invoices and licenses),
    so it never takes part in a lock cycle, and concurrent writers still form one chain.
    """
    if not changes:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit records are written inside the change's own transaction")
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS})
        head = AuditHead.objects.select_for_update().get(pk=1)
    context = current_request()
    now = timezone.now()
    prev = head.last_hash
    entries = []
    for change in changes:
        entry = AuditEntry(
            created_at=change.at or now,
            actor=change.actor if getattr(change.actor, "pk", None) else None,
            actor_label=change.actor_label or _label(change.actor),
            action=change.action,
            object_type=change.object_type,
            object_id=str(change.object_id),
            account_id=change.account_id,
            before=_jsonable(change.before),
            after=_jsonable(change.after),
            reason=change.reason[:200],
            ip=context.get("ip", ""),
            request_id=context.get("request_id", ""),
            prev_hash=prev,
        )
        entry.hash = entry_hash(prev, entry)
        prev = entry.hash
        entries.append(entry)
    AuditEntry.objects.bulk_create(entries, batch_size=2000)
    AuditHead.objects.filter(pk=1).update(last_hash=prev, count=head.count + len(entries))
    transaction.on_commit(lambda: _write_head_file(prev, head.count + len(entries)))
    return entries


def audit_record(change: Change) -> AuditEntry:
    return audit_record_many([change])[0]


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
