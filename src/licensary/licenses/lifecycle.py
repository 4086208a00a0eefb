"""The license lifecycle (rules 4 and 5): the transition table and the single-license moves.

    active --period ended--> blocked --7 days--> canceled --4 months after blocking--> deleted
    blocked | canceled --renewal paid (until renewable_until)--> active
    active --renewal paid before the end--> active (period extended from the old end)

Time-driven moves are made in bulk by `licenses.sweep`; the same steps restricted to one
license (`license_catch_up`) bring a license up to date before anything acts on it, so no
rule depends on the sweep having run on time.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from licensary.accounts.models import User
from licensary.audit.services import Change, audit_record
from licensary.billing.models import InvoiceLine
from licensary.billing.services import invoice_line_set_period
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
}
NOT_RENEWABLE_REASONS = {"ban"}


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


def license_snapshot(lic: License) -> dict[str, object]:
    return {
        "status": lic.status,
        "period_start": lic.period_start,
        "period_end": lic.period_end,
        "blocked_at": lic.blocked_at,
        "canceled_at": lic.canceled_at,
        "deleted_at": lic.deleted_at,
        "renewable_until": lic.renewable_until,
        "ip": lic.ip,
    }


def _due_moves(lic: License, now: datetime) -> list[tuple[str, datetime]]:
    """The time-driven moves the rules make on `lic` by `now`, in order, each with the time
    it takes effect (what the sweep records). Reads only status, period_end, blocked_at and
    renewable_until: verification loads no more."""
    moves: list[tuple[str, datetime]] = []
    status, blocked_at, renewable_until = lic.status, lic.blocked_at, lic.renewable_until
    if status == S.ACTIVE and now >= lic.period_end:
        status, blocked_at = S.BLOCKED, lic.period_end
        moves.append((status, blocked_at))
    if status == S.BLOCKED and now >= (
        cancel_at := blocked_at + timedelta(days=settings.LICENSARY["CANCEL_AFTER_BLOCK_DAYS"])
    ):
        status = S.CANCELED
        moves.append((status, cancel_at))
    if status == S.CANCELED and now >= (
        delete_at := renewable_until
        or add_months(blocked_at, settings.LICENSARY["DELETE_AFTER_BLOCK_MONTHS"])
    ):
        moves.append((S.DELETED, delete_at))
    return moves


def effective_status(lic: License, now: datetime) -> str:
    """The status the rules give `lic` at `now`, whether or not the sweep has run yet."""
    moves = _due_moves(lic, now)
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
    for status, moved_at in _due_moves(lic, now):
        if status == S.BLOCKED:
            state = replace(
                state,
                status=status,
                blocked_at=moved_at,
                renewable_until=add_months(
                    moved_at, settings.LICENSARY["DELETE_AFTER_BLOCK_MONTHS"]
                ),
            )
        elif status == S.CANCELED:
            state = replace(state, status=status, canceled_at=moved_at, cancel_reason="unpaid")
        else:
            state = replace(state, status=status, deleted_at=moved_at)
    return state


def license_catch_up(*, license: License) -> License:
    """Walk every due time-driven transition of one license, in order, each recorded."""
    from licensary.licenses.sweep import run_steps

    run_steps(license_ids=[license.pk])
    license.refresh_from_db()
    return license


def license_live_holder(*, product_id: int, ip: str) -> License | None:
    """The live license of (product, ip), brought up to date first: one past its deletion
    date frees the slot even if no sweep has run (rule 3 with rule 5)."""
    holder = License.objects.filter(product_id=product_id, ip=ip).exclude(status=S.DELETED).first()
    if holder is None or license_catch_up(license=holder).status == S.DELETED:
        return None
    return holder


def renewal_terms(lic: License, paid_at: datetime) -> tuple[datetime, datetime]:
    """The period a renewal paid at `paid_at` buys (rule 4)."""
    if lic.status == S.ACTIVE and paid_at < lic.period_end:
        return lic.period_end, lic.period_end + period()
    return paid_at, paid_at + period()


def license_require_renewable(lic: License) -> None:
    if lic.status == S.DELETED:
        raise LicenseDeleted("This license is deleted; order it again (the setup fee applies).")
    if lic.cancel_reason in NOT_RENEWABLE_REASONS:
        raise InvalidTransition("This license was canceled by a ban and cannot be renewed.")


def license_renew_paid(
    *,
    license: License,
    line: InvoiceLine,
    paid_at: datetime,
    actor: User | None,
    check_only: bool = False,
) -> License:
    """Apply a paid renewal; with `check_only`, refuse without changing the license."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("renewals are applied in the payment's transaction")
    license_catch_up(license=license)
    lic = License.objects.select_for_update().get(pk=license.pk)
    license_require_renewable(lic)
    if check_only:
        return lic
    start, end = renewal_terms(lic, paid_at)
    new = S.ACTIVE
    reason = check_transition(lic.status, new)
    before = license_snapshot(lic)
    changed = License.objects.filter(
        pk=lic.pk, status=lic.status, period_end=lic.period_end
    ).update(
        status=new,
        period_start=start,
        period_end=end,
        blocked_at=None,
        canceled_at=None,
        renewable_until=None,
        cancel_reason="",
    )
    assert changed == 1, "the license changed under its row lock"
    invoice_line_set_period(line_id=line.pk, start=start, end=end)
    lic.refresh_from_db()
    from licensary.suppliers.sync import upstream_sync_enqueue

    upstream_sync_enqueue([lic.pk], renew=True)
    audit_record(
        Change(
            action="license.renewed",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before=before,
            after=license_snapshot(lic),
            reason=reason,
        )
    )
    return lic
