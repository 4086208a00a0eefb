"""What a ban does to licenses (rule 6): each live license of the banned accounts is canceled
with reason `banned`, which no renewal undoes; a manufacturer license is suspended upstream
(its sync job, queued in the ban's transaction). The slot stays held until the license is
deleted, 4 months after its blocking, as for any canceled license."""

from django.db.models import Q
from django.utils import timezone

from licensary.accounts.models import User
from licensary.licenses import events as license_events
from licensary.licenses.events import license_snapshot
from licensary.licenses.models import License
from licensary.licenses.rules import BANNED, renewable_until_after_block
from licensary.licenses.upstream import upstream_sync_enqueue

S = License.Status


def licenses_cancel_for_ban(*, account_ids: list[int], note: str, actor: User) -> list[int]:
    """Cancel the accounts' licenses that are not deleted nor canceled by a ban already, in
    the ban's transaction (invoices are locked before, the order every money path takes).
    Returns the ids canceled."""
    now = timezone.now()
    locked = list(
        License.objects.select_for_update()
        .filter(account_id__in=account_ids)
        .exclude(status=S.DELETED)
        .exclude(Q(status=S.CANCELED) & Q(cancel_reason=BANNED))
        .order_by("pk")
    )
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
    transaction. Returns their ids."""
    locked = list(
        License.objects.select_for_update()
        .filter(billed_to_id__in=agent_ids)
        .exclude(account_id__in=agent_ids)
        .exclude(status=S.DELETED)
        .order_by("pk")
    )
    for lic in locked:
        agent = lic.billed_to_id
        assert agent is not None
        License.objects.filter(pk=lic.pk).update(billed_to=None)
        lic.billed_to_id = None
        license_events.license_billing_returned(
            lic, agent=agent, reason=f"agent banned: {note}", actor=actor
        )
    return [lic.pk for lic in locked]
