"""The only writer of the audit log."""

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from licensary.audit.models import AuditDigest, AuditEntry, AuditHead
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


def _hash_parts(
    *,
    created_at: str,
    actor: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    before: str,
    reason: str,
    ip: str,
    request_id: str,
) -> tuple[str, str, str, str]:
    """`_hash_body` of a batch entry (`prev` empty) in the four pieces its own values go
    between: body = p0 + account_id + p1 + after + p2 + object_id + p3, each as JSON."""
    return (
        '{"account_id":',
        f',"action":{_text(action)},"actor":{_text(actor)},'
        f'"actor_label":{_text(actor_label)},"after":',
        f',"before":{before},"created_at":{_text(created_at)},"ip":{_text(ip)},"object_id":',
        f',"object_type":{_text(object_type)},"prev":"","reason":{_text(reason)},'
        f'"request_id":{_text(request_id)}}}',
    )


def link_hash(prev_hash: str, first_id: int, last_id: int, digests: bytes) -> str:
    """A digest's place in the chain: the link before it, the entries it covers and their
    SHA-256s in id order."""
    return hashlib.sha256(f"{prev_hash}:{first_id}:{last_id}:".encode() + digests).hexdigest()


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
    head = _lock_head(connection)
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


def _lock_head(connection: Any) -> AuditHead:
    if not connection.in_atomic_block:
        raise RuntimeError("audit records are written inside the change's own transaction")
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS})
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


@dataclass(frozen=True)
class Batch:
    """What every entry of one batch shares: one action on one type of object, by one actor,
    for one reason, from one state (`before`, canonical JSON)."""

    action: str
    object_type: str
    actor_label: str
    reason: str
    before: str
    actor_id: int | None = None


BatchRow = tuple[int | str, int | None, str]  # object id, account id, canonical `after` JSON


def audit_append_batch(
    batch: Batch, rows: Sequence[BatchRow], *, at: datetime | None = None
) -> int:
    """Append one entry per row, the batch covered by one link of the chain (`AuditDigest`).

    The entries are as complete as `audit_append`'s, but none of them is hashed with the one
    before it: each entry's SHA-256 goes into the digest, in id order, and the digest alone is
    chained, so N entries cost one link. Runs in the caller's transaction under the head's lock,
    which also keeps the batch's ids consecutive. A single row is chained as usual.
    """
    if len(rows) <= 1:
        return audit_append(
            [
                (
                    batch.actor_id,
                    batch.actor_label,
                    batch.action,
                    batch.object_type,
                    oid,
                    account,
                    batch.before,
                    after,
                    batch.reason,
                )
                for oid, account, after in rows
            ],
            at=at,
        )
    connection = transaction.get_connection()
    head = _lock_head(connection)
    context = current_request()
    ip, request_id = context.get("ip", ""), context.get("request_id", "")
    created_at = at or timezone.now()
    reason = batch.reason[:200]
    p0, p1, p2, p3 = _hash_parts(
        created_at=created_at.isoformat(),
        actor=batch.actor_id,
        actor_label=batch.actor_label,
        action=batch.action,
        object_type=batch.object_type,
        before=batch.before,
        reason=reason,
        ip=ip,
        request_id=request_id,
    )
    sha256 = hashlib.sha256
    digests = b"".join(
        [
            sha256(
                f"{p0}{'null' if account is None else int(account)}{p1}{after}{p2}"
                f"{_text(str(oid))}{p3}".encode()
            ).digest()
            for oid, account, after in rows
        ]
    )
    shared = (
        created_at,
        batch.actor_id,
        batch.actor_label,
        batch.action,
        batch.object_type,
        batch.before,
        reason,
        ip,
        request_id,
        "",
        "",
    )
    first_id, last_id = _insert_batch(connection, shared, rows)
    chained = link_hash(head.last_hash, first_id, last_id, digests)
    AuditDigest.objects.create(
        created_at=created_at,
        first_id=first_id,
        last_id=last_id,
        digests=digests,
        prev_hash=head.last_hash,
        hash=chained,
    )
    count = head.count + len(rows)
    AuditHead.objects.filter(pk=1).update(last_hash=chained, count=count)
    transaction.on_commit(lambda: _write_head_file(chained, count))
    return len(rows)


# The batch's columns: what its entries share, then each one's own; `prev_hash` and `hash`
# stay empty (the digest holds the entry's hash).
_SHARED = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "before",
    "reason",
    "ip",
    "request_id",
    "prev_hash",
    "hash",
)
_OWN = ("object_id", "account_id", "after")


def _insert_batch(
    connection: Any, shared: tuple[Any, ...], rows: Sequence[BatchRow]
) -> tuple[int, int]:
    """Insert the batch's entries; their first and last id (consecutive: the head is locked)."""
    table = AuditEntry._meta.db_table
    columns = ", ".join((*_SHARED, *_OWN))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            prefix, null = "\t".join(_copy_field(v) for v in shared) + "\t", _copy_field(None)
            lines = "".join(
                [
                    f"{prefix}{str(oid).translate(_COPY_ESCAPES)}\t"
                    f"{null if account is None else int(account)}\t"
                    f"{after.translate(_COPY_ESCAPES)}\n"
                    for oid, account, after in rows
                ]
            )
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(lines.encode())
            cursor.execute(f"SELECT currval(pg_get_serial_sequence('{table}', 'id'))")
        else:
            # What the entries share goes into the statement as literals quoted by SQLite
            # itself (`quote()`; `%` doubled for Django's placeholders): each row then binds
            # only its own three values, which halves the cost of the insert.
            values = (connection.ops.adapt_datetimefield_value(shared[0]), *shared[1:])
            cursor.execute(f"SELECT {', '.join(['quote(%s)'] * len(values))}", values)
            literals = [str(literal).replace("%", "%%") for literal in cursor.fetchone()]
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(literals)}, %s, %s, %s)",
                rows,  # object ids are stored as text (the column's affinity)
            )
            cursor.execute("SELECT last_insert_rowid()")
        last_id = int(cursor.fetchone()[0])
        first_id = last_id - len(rows) + 1
        cursor.execute(
            f"SELECT COUNT(*) FROM {table} WHERE id BETWEEN %s AND %s", [first_id, last_id]
        )
        if cursor.fetchone()[0] != len(rows):
            raise RuntimeError("the batch's entries did not get consecutive ids")
    return first_id, last_id


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


def audit_head_file_sync() -> None:
    """Write the head file from the database's head row (none: no file), after the database
    was replaced (`licensary restore`): the old file would call the restored chain cut off."""
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        Path(settings.LICENSARY["AUDIT_HEAD_FILE"]).unlink(missing_ok=True)
        return
    _write_head_file(head.last_hash, head.count)


@dataclass
class ChainReport:
    checked: int
    first_broken: int | None
    problem: str


def audit_verify() -> ChainReport:
    """Walk the chain from the start; report the first entry or digest that does not hold.

    Entries are read in id order; those inside a digest's range are checked against its list
    of hashes, the others against the entry before them. Then the chain's end must be the
    head row's and the head file's.
    """
    prev, checked = GENESIS, 0
    digests = AuditDigest.objects.order_by("first_id").iterator(chunk_size=20)
    digest = next(digests, None)
    batch: dict[int, bytes] = {}
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=5000):
        while digest is not None and entry.pk > digest.last_id:
            broken = _batch_broken(prev, digest, batch)
            if broken:
                return ChainReport(checked, *broken)
            prev, checked, batch = digest.hash, checked + len(batch), {}
            digest = next(digests, None)
        if digest is not None and entry.pk >= digest.first_id:
            batch[entry.pk] = bytes.fromhex(entry_hash(entry.prev_hash, entry))
            continue
        if entry.prev_hash != prev:
            return ChainReport(checked, entry.pk, "prev_hash does not match the entry before")
        if entry_hash(prev, entry) != entry.hash:
            return ChainReport(checked, entry.pk, "hash does not match the entry's content")
        prev = entry.hash
        checked += 1
    while digest is not None:
        broken = _batch_broken(prev, digest, batch)
        if broken:
            return ChainReport(checked, *broken)
        prev, checked, batch = digest.hash, checked + len(batch), {}
        digest = next(digests, None)
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and head.count < checked:
        return ChainReport(
            checked, None, "the chain goes on past the recorded head (entries added)"
        )
    if head is not None and (head.last_hash != prev or head.count != checked):
        return ChainReport(checked, None, "the chain ends before the recorded head (tail cut)")
    path = Path(settings.LICENSARY["AUDIT_HEAD_FILE"])
    if path.exists():
        count_text, _, file_hash = path.read_text().strip().partition(" ")
        if int(count_text) > checked or (int(count_text) == checked and file_hash != prev):
            return ChainReport(checked, None, "the chain does not reach the head file's hash")
    return ChainReport(checked, None, "")


def _batch_broken(
    prev: str, digest: AuditDigest, found: dict[int, bytes]
) -> tuple[int, str] | None:
    """(entry id, what is wrong) for the first entry of the batch that is not where its digest
    says, or None when the batch holds. `found` is {id: SHA-256} of the entries in its range."""
    first, last = digest.first_id, digest.last_id
    span = f"entries {first} to {last}"
    if digest.prev_hash != prev:
        return first, f"the digest of {span} does not follow the entry before"
    listed = bytes(digest.digests)
    if (
        len(listed) != 32 * (last - first + 1)
        or link_hash(prev, first, last, listed) != digest.hash
    ):
        return first, f"the digest of {span} does not match its own hash"
    expected = [listed[i : i + 32] for i in range(0, len(listed), 32)]
    position = {sha: i for i, sha in enumerate(expected)}
    for i, sha in enumerate(expected):
        pk = first + i
        got = found.get(pk)
        if got == sha:
            continue
        if got is None:
            return pk, f"the entry is missing from its batch ({span}): removed"
        following = found.get(pk + 1)
        j = position.get(got)
        if j is None:
            if following == sha:  # this one pushed the rest along
                return pk, f"the entry is not in its batch's digest ({span}): inserted"
            return pk, f"the entry does not match its batch's digest ({span}): altered"
        if j == i + 1 and following != sha:  # the rest moved up into its place
            return pk, f"the entry is missing from its batch ({span}): removed"
        return pk, f"the entry is out of order in its batch ({span}): it was written as {first + j}"
    return None
