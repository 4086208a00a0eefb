"""The lifecycle's rules (rules 4 and 5), pure: no query, no write, only a license's fields,
a moment and the settings in. The sweep's SQL, the single-license moves, verification and the
API all read their transitions, due times and effective status from here, so "what status
does this license have now" has one answer whether or not the sweep has run.

    active --period ended--> blocked --7 days--> canceled --4 months after blocking--> deleted
    blocked | canceled --renewal paid (until renewable_until)--> active
    active --renewal paid before the end--> active (period extended from the old end)
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings

from licensary.core.dates import add_months
from licensary.core.errors import InvalidTransition, LicenseDeleted
from licensary.licenses.models import License

S = License.Status
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.ACTIVE, S.BLOCKED): "period ended unpaid",
    (S.BLOCKED, S.CANCELED): "blocked for 7 days",
    (S.CANCELED, S.DELETED): "not renewed within 4 months of blocking",
    (S.BLOCKED, S.ACTIVE): "renewal paid",
    (S.CANCELED, S.ACTIVE): "renewal paid",
    (S.ACTIVE, S.ACTIVE): "renewal paid",
    (S.ACTIVE, S.CANCELED): "account banned",
}
BANNED = "banned"  # the cancel reason of a ban (rule 6): never renewed
CLAIMED = "claimed"  # the cancel reason of an approved claim (rule 10): never renewed
NOT_RENEWABLE_REASONS = {BANNED, CLAIMED}


class LifecycleFields(Protocol):
    """What the time-driven rules read of a license: a `License`, or the row verification
    reads with its one prepared statement (`verification.services.LicenseRow`)."""

    @property
    def pk(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def period_end(self) -> datetime: ...
    @property
    def blocked_at(self) -> datetime | None: ...
    @property
    def renewable_until(self) -> datetime | None: ...


def period() -> timedelta:
    return timedelta(days=settings.LICENSARY["PERIOD_DAYS"])


def current_period_start(lic: License, now: datetime) -> datetime:
    """When the period that `now` falls in began: periods run back from `period_end` in steps
    of PERIOD_DAYS. An early renewal adds a period after the current one (rule 4), so the
    current period, and what counts in it (rule 11's IP changes), stays the same."""
    length = period()
    periods_left = max(1, -((now - lic.period_end) // length))  # whole periods, rounded up
    return lic.period_end - periods_left * length


def check_transition(old: str, new: str) -> str:
    try:
        return TRANSITIONS[(old, new)]
    except KeyError:
        raise InvalidTransition(f"A license cannot go from {old} to {new}.") from None


def cancel_after_block() -> timedelta:
    """How long a license stays blocked before it is canceled."""
    return timedelta(days=settings.LICENSARY["CANCEL_AFTER_BLOCK_DAYS"])


def delete_after_block_months() -> int:
    return int(settings.LICENSARY["DELETE_AFTER_BLOCK_MONTHS"])


def renewable_until_after_block(blocked_at: datetime) -> datetime:
    """Until when a license blocked at `blocked_at` can be renewed (then it is deleted)."""
    return add_months(blocked_at, delete_after_block_months())


def renewal_notice() -> timedelta:
    """How long before its period ends a license's renewal invoice is issued."""
    return timedelta(days=settings.LICENSARY["RENEWAL_NOTICE_DAYS"])


def reminder_stages() -> list[tuple[int, int]]:
    """(stage, days before the due time) of the renewal reminders after the notice at issue
    (stage 1, sent `renewal_notice` before the end): one per later day of REMINDER_DAYS,
    the farthest first (a stage is sent once, in order)."""
    later = sorted(settings.LICENSARY["REMINDER_DAYS"][1:], reverse=True)
    return list(enumerate(later, start=2))


def due_moves(lic: LifecycleFields, now: datetime) -> list[tuple[str, datetime]]:
    """The time-driven moves the rules make on `lic` by `now`, in order, each with the time
    it takes effect (what the sweep records). Reads only status, period_end, blocked_at and
    renewable_until: verification loads no more."""
    moves: list[tuple[str, datetime]] = []
    status, blocked_at, renewable_until = lic.status, lic.blocked_at, lic.renewable_until
    if status == S.ACTIVE and now >= lic.period_end:
        status, blocked_at = S.BLOCKED, lic.period_end
        renewable_until = renewable_until_after_block(blocked_at)  # as the block step sets it
        moves.append((status, blocked_at))
    if status == S.ACTIVE:
        return moves
    # A license that is not active records its blocking (a check constraint).
    assert blocked_at is not None, f"license {lic.pk} is {status} with no blocked_at"
    if status == S.BLOCKED and now >= (cancel_at := blocked_at + cancel_after_block()):
        status = S.CANCELED
        moves.append((status, cancel_at))
    # Deleted when renewable_until passes, exactly as the sweep's delete step reads it (a
    # canceled row that never got one is not deleted by either).
    if status == S.CANCELED and renewable_until is not None and now >= renewable_until:
        moves.append((S.DELETED, renewable_until))
    return moves


def effective_status(lic: LifecycleFields, now: datetime) -> str:
    """The status the rules give `lic` at `now`, whether or not the sweep has run yet."""
    moves = due_moves(lic, now)
    return moves[-1][0] if moves else lic.status


@dataclass(frozen=True)
class EffectiveState:
    """A license's status and lifecycle dates as the rules give them at a moment."""

    status: str
    blocked_at: datetime | None
    canceled_at: datetime | None
    deleted_at: datetime | None
    renewable_until: datetime | None
    cancel_reason: str


def effective_state(lic: License, now: datetime) -> EffectiveState:
    """`effective_status` with the dates the due moves set (as the sweep sets them), for the
    reads that show a license: they say what verification says, before any sweep."""
    state = EffectiveState(
        status=lic.status,
        blocked_at=lic.blocked_at,
        canceled_at=lic.canceled_at,
        deleted_at=lic.deleted_at,
        renewable_until=lic.renewable_until,
        cancel_reason=lic.cancel_reason,
    )
    for status, moved_at in due_moves(lic, now):
        if status == S.BLOCKED:
            state = replace(
                state,
                status=status,
                blocked_at=moved_at,
                renewable_until=renewable_until_after_block(moved_at),
            )
        elif status == S.CANCELED:
            state = replace(state, status=status, canceled_at=moved_at, cancel_reason="unpaid")
        else:
            state = replace(state, status=status, deleted_at=moved_at)
    return state


def renewal_terms(lic: License, paid_at: datetime) -> tuple[datetime, datetime]:
    """The period a renewal paid at `paid_at` buys (rule 4)."""
    if lic.status == S.ACTIVE and paid_at < lic.period_end:
        return lic.period_end, lic.period_end + period()
    return paid_at, paid_at + period()


def license_require_renewable(lic: License) -> None:
    if lic.status == S.DELETED:
        raise LicenseDeleted("This license is deleted; order it again (the setup fee applies).")
    if lic.cancel_reason in NOT_RENEWABLE_REASONS:
        why = "a ban" if lic.cancel_reason == BANNED else "an approved claim"
        raise InvalidTransition(f"This license was canceled by {why} and cannot be renewed.")
