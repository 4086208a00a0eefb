"""What a ban does to licenses (rule 6): each live license of the banned accounts is canceled
with reason `banned`, which no renewal undoes; a manufacturer license is suspended upstream
(its sync job, queued in the ban's transaction). The slot stays held until the license is
deleted, 4 months after its blocking, as for any canceled license."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from licensary.accounts.models import User
from licensary.licenses import events as license_events
from licensary.licenses.events import license_snapshot
from licensary.licenses.models import License
from licensary.licenses.ownership import license_void_open_renewals, lock_open_renewals
from licensary.licenses.rules import BANNED, renewable_until_after_block
from licensary.licenses.upstream import upstream_sync_enqueue

S = License.Status


def licenses_due_for_ban(account_ids: list[int]) -> QuerySet[License]:
    """The accounts' licenses a ban cancels: not deleted, nor canceled by a ban already."""
    return (
        License.objects.filter(account_id__in=account_ids)
        .exclude(status=S.DELETED)
        .exclude(Q(status=S.CANCELED) & Q(cancel_reason=BANNED))
    )


def licenses_billed_to_banned(agent_ids: list[int]) -> QuerySet[License]:
    """The live licenses banned agents pay for, of owners who are not banned: their owners'
    to renew once the agents are banned (`licenses_unbill_for_ban`)."""
    return (
        License.objects.filter(billed_to_id__in=agent_ids)
        .exclude(account_id__in=agent_ids)
        .exclude(status=S.DELETED)
    )


def licenses_cancel_for_ban(*, account_ids: list[int], note: str, actor: User) -> list[int]:
    """Cancel the accounts' licenses that are not deleted nor canceled by a ban already, in
    the ban's transaction (invoices are locked before, the order every money path takes).
    Returns the ids canceled."""
    now = timezone.now()
    locked = list(licenses_due_for_ban(account_ids).select_for_update().order_by("pk"))
    for lic in locked:
        before = license_snapshot(lic)
        blocked_at = lic.blocked_at or now
        License.objects.filter(pk=lic.pk, status=lic.status).update(
            status=S.CANCELED,
            cancel_reason=BANNED,
            blocked_at=blocked_at,
            canceled_at=lic.canceled_at or now,
            renewable_until=lic.renewable_until or renewable_until_after_block(blocked_at),
        )
        lic.refresh_from_db()
        license_events.license_canceled_by_ban(lic, before=before, note=note, actor=actor)
    ids = [lic.pk for lic in locked]
    upstream_sync_enqueue(ids)
    return ids


def licenses_unbill_for_ban(*, agent_ids: list[int], note: str, actor: User) -> list[int]:
    """The live licenses billed to banned agents, of owners who are not banned, are their
    owners' to renew from now on (a banned agent pays nothing more), in the ban's
    transaction: a renewal invoice the agent still has open is voided, and the sweep issues
    the next one to the owner. Returns their ids."""
    ids = list(licenses_billed_to_banned(agent_ids).order_by("pk").values_list("pk", flat=True))
    reason = f"agent banned: {note}"
    for pk in ids:
        lock_open_renewals(pk)  # before the license, as payments do
        lic = License.objects.select_for_update().get(pk=pk)
        agent = lic.billed_to_id
        if agent is None:
            continue
        License.objects.filter(pk=lic.pk).update(billed_to=None)
        lic.billed_to_id = None
        license_void_open_renewals(lic, reason=reason, actor=actor)
        license_events.license_billing_returned(lic, agent=agent, reason=reason, actor=actor)
    return ids
