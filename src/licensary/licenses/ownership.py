"""A license changing hands (rule 10): moved whole to another account by a transfer, or
canceled for a claim and later deleted to free its slot for the claimant's paid order.

A transfer moves the same row: its period, its upstream license (a manufacturer license
keeps its supplier reference, so it "follows" with no call) and its history stay; the old
owner's unpaid renewal invoices for it are void (the new owner renews on its own invoice).
"""

from django.utils import timezone

from licensary.accounts.models import User
from licensary.billing.models import Invoice, InvoiceLine
from licensary.billing.services import invoices_void
from licensary.core.errors import InvalidTransition
from licensary.licenses import events as license_events
from licensary.licenses.events import license_snapshot
from licensary.licenses.lifecycle import license_catch_up
from licensary.licenses.models import License
from licensary.licenses.rules import CLAIMED, renewable_until_after_block
from licensary.licenses.upstream import upstream_sync_enqueue

S = License.Status


def license_lock(license_id: int) -> License:
    """The license, brought up to date by the rules and locked (the caller's transaction)."""
    lic = License.objects.get(pk=license_id)
    license_catch_up(license=lic)
    return License.objects.select_for_update().select_related("product").get(pk=license_id)


def _void_open_renewals(lic: License, *, reason: str, actor: User | None) -> None:
    """Void the unpaid renewal invoices of `lic` (locked by the caller before the license, the
    money paths' order) and let the sweep issue the next one to whoever holds it now."""
    renewals = list(
        InvoiceLine.objects.filter(
            license=lic, kind=InvoiceLine.Kind.RENEWAL, invoice__status=Invoice.Status.UNPAID
        ).values_list("invoice_id", flat=True)
    )
    invoices_void(invoice_ids=renewals, reason=reason, actor=actor)
    License.objects.filter(pk=lic.pk).update(renewal_invoiced_for=None)


def lock_open_renewals(license_id: int) -> None:
    """Lock the license's unpaid renewal invoices: before the license, as payments do."""
    list(
        Invoice.objects.select_for_update()
        .filter(
            status=Invoice.Status.UNPAID,
            lines__license_id=license_id,
            lines__kind=InvoiceLine.Kind.RENEWAL,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def license_transfer(
    *, license: License, to_account: User, transfer: int, actor: User | None
) -> License:
    """Move `license` to `to_account`, in the caller's transaction (the transfer's own)."""
    lock_open_renewals(license.pk)
    lic = license_lock(license.pk)
    if lic.status == S.DELETED:
        raise InvalidTransition("This license is deleted; there is nothing left to transfer.")
    from_account = lic.account_id
    _void_open_renewals(lic, reason=f"license {lic.pk} transferred to another account", actor=actor)
    # Its renewals go to the new owner, or to the new owner's agent when that agent accepted
    # it for its customer; the old owner's agent stops paying for it.
    billed_to = (
        actor.pk
        if actor is not None and actor.kind == User.Kind.AGENT and to_account.agent_id == actor.pk
        else None
    )
    updated = License.objects.filter(pk=lic.pk, account_id=from_account).update(
        account_id=to_account.pk, billed_to_id=billed_to
    )
    if updated != 1:
        raise InvalidTransition(f"License {lic.pk} changed owner meanwhile.")
    lic.account_id, lic.billed_to_id = to_account.pk, billed_to
    license_events.license_transferred(
        lic, from_account=from_account, transfer=transfer, actor=actor
    )
    return lic


def license_cancel_for_claim(*, license: License, claim: int, actor: User) -> License:
    """Cancel the claimed license (reason `claimed`, never renewed; suspended upstream), in
    the approval's transaction. Its slot stays held until the claimant's order is paid."""
    lock_open_renewals(license.pk)
    lic = license_lock(license.pk)
    if lic.status == S.DELETED:
        raise InvalidTransition("This license is deleted already; order the IP instead.")
    _void_open_renewals(lic, reason=f"license {lic.pk} claimed (claim {claim})", actor=actor)
    before = license_snapshot(lic)
    now = timezone.now()
    blocked_at = lic.blocked_at or now
    License.objects.filter(pk=lic.pk, status=lic.status).update(
        status=S.CANCELED,
        cancel_reason=CLAIMED,
        blocked_at=blocked_at,
        canceled_at=lic.canceled_at or now,
        renewable_until=lic.renewable_until or renewable_until_after_block(blocked_at),
    )
    lic.refresh_from_db()
    license_events.license_canceled_by_claim(lic, before=before, claim=claim, actor=actor)
    upstream_sync_enqueue([lic.pk])
    return lic


def license_release_claimed(*, license: License, order: int, actor: User | None) -> License:
    """Delete a license canceled by a claim, freeing its (product, IP) slot, in the
    transaction of the claimant's delivery that takes the slot."""
    lic = License.objects.select_for_update().get(pk=license.pk)
    if lic.status != S.CANCELED or lic.cancel_reason != CLAIMED:
        raise InvalidTransition(f"License {lic.pk} is not a claimed license.")
    before = license_snapshot(lic)
    License.objects.filter(pk=lic.pk, status=S.CANCELED).update(
        status=S.DELETED, deleted_at=timezone.now()
    )
    lic.refresh_from_db()
    license_events.license_deleted_for_claim(lic, before=before, order=order, actor=actor)
    return lic
