"""What happened, recorded and announced: the seam between an app and the apps that react.

An app says what happened through the constructors of its `events.py`; each writes the audit
entry (`record`) and announces the event to the handlers that other apps registered at
start-up (`subscribe`, called from their `AppConfig.ready`). The app that emits never imports
the apps that react: billing announces `invoice.paid`, notifications sends the mail.

Handlers run in the emitter's transaction, so what they queue (a job, a row) commits or rolls
back with the change itself: a sent notification always belongs to a committed change, and a
committed change never loses its notification. So a handler only writes to the database; it
never calls the network (mail and webhooks are jobs that run after commit).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from licensary.audit.services import (
    Batch,
    BatchRow,
    Change,
    audit_append_batch,
    audit_record_many,
)


@dataclass(frozen=True)
class Announcement:
    """An event as handlers see it: what happened, to which objects, with a little data.

    One announcement may carry many objects (a sweep batch blocks thousands of licenses at
    once); handlers read what else they need from the database, in the same transaction.
    """

    name: str  # "<object type>.<what happened>", e.g. "license.blocked"
    object_type: str
    object_ids: tuple[str, ...]
    data: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


Handler = Callable[[Announcement], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)
EVERY = "*"  # the name to subscribe to for every announcement, whatever its name


def subscribe(name: str, handler: Handler) -> None:
    """Call `handler` for every announcement of `name` (from an `AppConfig.ready`), or of
    every name for `EVERY`.

    Subscribing the same handler twice (a second `ready()`, as tests may cause) is a no-op.
    """
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def unsubscribe(name: str, handler: Handler) -> None:
    """Stop calling `handler` for `name` (a test's listener, once the test is done)."""
    if handler in _handlers.get(name, ()):
        _handlers[name].remove(handler)


def announce(name: str, object_type: str, object_ids: Iterable[object], **data: object) -> None:
    """Tell the handlers of `name`, in the caller's transaction (no audit entry: `record`
    writes one). For what is not a change of state itself, such as a reminder falling due."""
    ids = tuple(str(pk) for pk in object_ids)
    if not ids:
        return
    announcement = Announcement(name, object_type, ids, MappingProxyType(dict(data)))
    for handler in (*_handlers.get(name, ()), *_handlers.get(EVERY, ())):
        handler(announcement)


def record(*changes: Change, **data: object) -> None:
    """Write each change's audit entry, then announce it (changes of one action together)."""
    if not changes:
        return
    audit_record_many(list(changes))
    _announce_by_action(
        ((change.action, change.object_type, change.object_id) for change in changes), data
    )


def record_batch(batch: Batch, rows: Sequence[BatchRow], **data: object) -> None:
    """`record` for a batch of one action (the sweep's): an entry per row, one digest link
    for them all (`audit_append_batch`), one announcement of their object ids."""
    if not rows:
        return
    audit_append_batch(batch, rows)
    announce(batch.action, batch.object_type, (row[0] for row in rows), **data)


def _announce_by_action(
    entries: Iterable[tuple[object, object, object]], data: Mapping[str, object]
) -> None:
    grouped: dict[tuple[str, str], list[object]] = {}
    for action, object_type, object_id in entries:
        grouped.setdefault((str(action), str(object_type)), []).append(object_id)
    for (action, object_type), ids in grouped.items():
        announce(action, object_type, ids, **data)
