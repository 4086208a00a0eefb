"""The events agents' webhooks carry: which announcements they are (one table), whose agent
each concerns, and the object each carries as `data`.

Each event is the domain announcement of the same name (`orders.events`, `billing.events`,
`licenses.events`, `licenses.sweep`, `governance.events`); `transfer.*` and `claim.*` take
every announcement of those prefixes. `data` is the object as the API shows it (the order,
invoice, license, transfer or claim answer; a claim never with its challenge), read when the
event happens, in its transaction: a snapshot, as Stripe sends it, so that a retry a day later
sends the same body. An object of a type without a source here carries its audit entry's
`after` with its id.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from ninja import Schema
from ninja.responses import NinjaJSONEncoder

from licensary.accounts.models import User
from licensary.audit.bus import Announcement
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.billing.schemas import InvoiceOut, invoice_out
from licensary.governance.models import Claim, Transfer
from licensary.governance.schemas import ClaimOut, TransferOut, claim_out, transfer_out
from licensary.licenses.models import License
from licensary.licenses.schemas import LicenseOut, license_out
from licensary.orders.models import Order
from licensary.orders.schemas import OrderOut, order_out

# The contract's event names (API.md, issue 11), each the announcement of the same name.
EVENT_TYPES: tuple[str, ...] = (
    "order.completed",
    "order.on_hold",
    "invoice.issued",
    "invoice.paid",
    "license.renewed",
    "license.blocked",
    "license.canceled",
    "license.deleted",
    "license.ip_changed",
)
# Every announcement of these prefixes: the transfers' and claims' events.
WILDCARDS: tuple[str, ...] = ("transfer.*", "claim.*")
SUBSCRIBABLE: tuple[str, ...] = EVENT_TYPES + WILDCARDS
# An announcement whose name differs from the contract's: {announcement: contract name}.
RENAMED: dict[str, str] = {}
TEST_EVENT = "webhook.test"  # sent by POST /webhooks/{id}/test, whatever the endpoint's events

_PREFIXES = tuple(w.removesuffix("*") for w in WILDCARDS)
ID_CHUNK = 2000  # ids per `IN (...)`: well inside every database's parameter limit


def contract_name(announcement: str) -> str | None:
    """The event type agents see for an announcement, or None when webhooks carry none."""
    name = RENAMED.get(announcement, announcement)
    if name in EVENT_TYPES or name.startswith(_PREFIXES):
        return name
    return None


def subscribed(events: Iterable[str], name: str) -> bool:
    """Whether an endpoint subscribed to `events` wants the event `name`."""
    chosen = set(events)
    return name in chosen or f"{name.split('.', 1)[0]}.*" in chosen


@dataclass(frozen=True)
class Source:
    """Where the objects of one type are read, whose they are, and how the API shows one."""

    model: type[Model]
    rows: Callable[[], QuerySet[Any]]  # the queryset the renderer needs (its joins)
    render: Callable[[Any], dict[str, Any]]
    schema: type[Schema]
    # The account fields of the object the event concerns, given the announcement's data.
    parties: Callable[[Mapping[str, object]], tuple[str, ...]] = lambda data: ("account",)


def _claim_parties(data: Mapping[str, object]) -> tuple[str, ...]:
    # The license's owner hears of a claim where the event names it (rule 10: not while its
    # license is blocked or canceled).
    return ("claimant", "owner") if data.get("owner") else ("claimant",)


def _claim_out(claim: Claim) -> dict[str, Any]:
    # Never the challenge: it is the claimant's credential, and a webhook leaves the platform.
    shown = claim_out(claim, claim.owner, timezone.now())
    return shown | {"challenge": None, "challenge_expires_at": None}


SOURCES: dict[str, Source] = {
    "order": Source(Order, lambda: Order.objects.select_related("product"), order_out, OrderOut),
    "invoice": Source(
        Invoice, lambda: Invoice.objects.prefetch_related("lines"), invoice_out, InvoiceOut
    ),
    "license": Source(
        License, lambda: License.objects.select_related("product"), license_out, LicenseOut
    ),
    "transfer": Source(
        Transfer,
        lambda: Transfer.objects.all(),
        lambda t: transfer_out(t, timezone.now()),
        TransferOut,
        lambda data: ("from_account", "to_account"),
    ),
    "claim": Source(
        Claim,
        lambda: Claim.objects.select_related("claimant", "owner"),
        _claim_out,
        ClaimOut,
        _claim_parties,
    ),
}


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _agent(account_id: int | None, kind: str | None, agent_id: int | None) -> int | None:
    """The agent an object of this account concerns: the account itself when it is one."""
    if account_id is None:
        return None
    return account_id if kind == User.Kind.AGENT else agent_id


def agents_of(event: Announcement, ids: list[str]) -> dict[str, set[int]]:
    """{object id: the agents it concerns}, for the objects that concern an agent: the agent
    of each account the object is about (a transfer: both sides), or that account itself."""
    found: dict[str, set[int]] = {}
    source = SOURCES.get(event.object_type)
    for chunk in _chunks(ids):
        if source is None:
            rows: Iterable[tuple[Any, ...]] = _entry_accounts(event, chunk)
            width = 1
        else:
            fields = source.parties(event.data)
            width = len(fields)
            columns = [c for f in fields for c in (f, f"{f}__kind", f"{f}__agent")]
            rows = source.model._default_manager.filter(pk__in=chunk).values_list("pk", *columns)
        for pk, *parties in rows:
            for i in range(width):
                agent = _agent(*parties[3 * i : 3 * i + 3])
                if agent is not None:
                    found.setdefault(str(pk), set()).add(agent)
    return found


def _entry_accounts(event: Announcement, ids: list[str]) -> list[tuple[Any, ...]]:
    """(object id, account, its kind, its agent) of each audit entry of the event, for an
    object type without a source here."""
    rows = list(
        AuditEntry.objects.filter(
            object_type=event.object_type, object_id__in=ids, action=event.name
        ).values_list("object_id", "account_id")
    )
    users: dict[int | None, tuple[str | None, int | None]] = {
        pk: (kind, agent)
        for pk, kind, agent in User.objects.filter(
            pk__in={account for _, account in rows if account is not None}
        ).values_list("pk", "kind", "agent_id")
    }
    return [(pk, account, *users.get(account, (None, None))) for pk, account in rows]


def _entries(object_type: str, ids: list[str], action: str) -> Iterator[tuple[str, Any]]:
    """(object id, `after`) of each object's latest audit entry of `action`."""
    seen: set[str] = set()
    rows = (
        AuditEntry.objects.filter(object_type=object_type, object_id__in=ids, action=action)
        .order_by("object_id", "-id")
        .values_list("object_id", "after")
    )
    for object_id, value in rows:
        if object_id not in seen:
            seen.add(object_id)
            yield object_id, value


def objects_data(object_type: str, ids: list[str], action: str) -> dict[str, dict[str, Any]]:
    """{object id: its `data`}: the API's answer for it now (or its audit entry's `after`)."""
    source = SOURCES.get(object_type)
    data: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        if source is None:
            for object_id, after in _entries(object_type, chunk, action):
                data[object_id] = {"id": object_id, **(after or {})}
            continue
        for obj in source.rows().filter(pk__in=chunk):
            data[str(obj.pk)] = source.schema.model_validate(source.render(obj)).model_dump()
    return data


def body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The JSON text every attempt of a message sends: `{type, timestamp, data}`, with the
    API's own rendering of times and money."""
    return json.dumps(
        {"type": event_type, "timestamp": at, "data": data},
        cls=NinjaJSONEncoder,
        separators=(",", ":"),
    )
