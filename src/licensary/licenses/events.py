"""What happens to licenses one at a time, as events: each writes its audit entry and is
announced to the apps that react (`audit.bus`), in the caller's transaction. The sweep's
time-driven moves (blocked, canceled, deleted, ...) are announced in bulk by `licenses.sweep`.

`actor` None is the platform: delivery (`system:delivery`) or the payment that renews.
"""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.licenses.models import License


def license_snapshot(lic: License) -> dict[str, object]:
    """What a license's entries say of its state (before and after a lifecycle move)."""
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


def license_issued(lic: License, *, order_id: int, actor: User | None) -> None:
    """`license.issued`: the active license order `order_id` paid for."""
    record(
        Change(
            action="license.issued",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            actor_label=_label(actor),
            account_id=lic.account_id,
            after=license_snapshot(lic),
            reason=f"order {order_id} paid",
        )
    )


def license_upstream_released(
    lic: License, *, reference: str, held_by: License, actor: User | None
) -> None:
    """`license.upstream_released`: deleted `lic` let go of the upstream license `reference`,
    which `held_by` holds now."""
    record(
        Change(
            action="license.upstream_released",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            actor_label=_label(actor),
            account_id=lic.account_id,
            before={"upstream_reference": reference},
            after={
                "upstream_reference": "",
                "upstream_former_reference": reference,
                "held_by": held_by.pk,
            },
            reason=f"upstream license {reference} at {lic.upstream_supplier} "
            f"now belongs to license {held_by.pk}",
        )
    )


def license_renewed(
    lic: License, *, before: dict[str, object], why: str, actor: User | None
) -> None:
    """`license.renewed`: a paid renewal moved it on (from its snapshot `before`, the
    transition's reason `why`)."""
    record(
        Change(
            action="license.renewed",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before=before,
            after=license_snapshot(lic),
            reason=why,
        )
    )


def license_ip_changed(lic: License, *, old_ip: str, actor: User) -> None:
    """`license.ip_changed`: moved from `old_ip` to its IP now, and counted."""
    record(
        Change(
            action="license.ip_changed",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before={"ip": old_ip},
            after={"ip": lic.ip, "changes_in_period": lic.ip_changes_in_period},
        )
    )


def license_ip_change_refused(
    lic: License, *, new_ip: str, code: str, why: str, actor: User
) -> None:
    """`license.ip_change_refused`: it stays on its IP; `code` is the answer's error code."""
    record(
        Change(
            action="license.ip_change_refused",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before={"ip": lic.ip},
            after={"ip": new_ip, "code": code},
            reason=why,
        )
    )


def license_canceled_by_ban(
    lic: License, *, before: dict[str, object], note: str, actor: User
) -> None:
    """`license.canceled` with reason `banned`: its account was banned (rule 6)."""
    record(
        Change(
            action="license.canceled",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before=before,
            after=license_snapshot(lic) | {"cancel_reason": lic.cancel_reason},
            reason=f"account banned: {note}"[:200],
        )
    )


def license_billing_returned(lic: License, *, agent: int, reason: str, actor: User) -> None:
    """`license.billing_changed`: its renewals go to its owner now, no longer to `agent`."""
    record(
        Change(
            action="license.billing_changed",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before={"billed_to": agent},
            after={"billed_to": None},
            reason=reason[:200],
        )
    )


def license_problem_unresolvable(lic: License, *, ticket: str, note: str, actor: User) -> None:
    """`license.problem_unresolvable`: staff say its licensing problem cannot be solved."""
    record(
        Change(
            action="license.problem_unresolvable",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            after={"ticket": ticket},
            reason=note,
        )
    )


def license_upstream_recheck(lic: License, *, status: str, error: str, cause: str) -> None:
    """Its upstream state is no longer vouched for (`status`, `error` now): checked again."""
    record(
        Change(
            action="license.upstream_recheck",
            object_type="license",
            object_id=lic.pk,
            actor_label="system:supplier",
            account_id=lic.account_id,
            before={"upstream_status": lic.upstream_status, "upstream_error": lic.upstream_error},
            after={"upstream_status": status, "upstream_error": error},
            reason=cause,
        )
    )


def license_ip_change_abandoned(lic: License, *, asked_ip: str) -> None:
    record(
        Change(
            action="license.ip_change_abandoned",
            object_type="license",
            object_id=lic.pk,
            actor_label="system:supplier",
            account_id=lic.account_id,
            before={"ip": lic.ip},
            after={"ip": asked_ip},
            reason="the supplier was asked to move it, but the change never "
            "completed here; upstream follows the license's IP",
        )
    )


def _label(actor: User | None) -> str:
    return "" if actor else "system:delivery"


def license_transferred(
    lic: License, *, from_account: int, transfer: int, actor: User | None
) -> None:
    """`license.transferred`: the same license, its period unchanged, has a new owner."""
    record(
        Change(
            action="license.transferred",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            actor_label="" if actor else "system",
            account_id=lic.account_id,
            before={"account": from_account},
            after={"account": lic.account_id, "transfer": transfer},
            reason=f"transfer {transfer}",
        ),
        from_account=from_account,
    )


def license_canceled_by_claim(
    lic: License, *, before: dict[str, object], claim: int, actor: User
) -> None:
    """`license.canceled` with reason `claimed`: staff approved another account's claim."""
    record(
        Change(
            action="license.canceled",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            account_id=lic.account_id,
            before=before,
            after=license_snapshot(lic) | {"cancel_reason": lic.cancel_reason},
            reason=f"claimed: claim {claim} approved",
        )
    )


def license_deleted_for_claim(
    lic: License, *, before: dict[str, object], order: int, actor: User | None
) -> None:
    """`license.deleted`: a claimed license frees its slot for the claimant's paid order."""
    record(
        Change(
            action="license.deleted",
            object_type="license",
            object_id=lic.pk,
            actor=actor,
            actor_label="" if actor else "system",
            account_id=lic.account_id,
            before=before,
            after=license_snapshot(lic),
            reason=f"claimed: the claimant's order {order} is paid",
        )
    )
