"""Reads of licenses: what a caller sees, and a license's audit history."""

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from licensary.accounts.models import User
from licensary.accounts.policy import visible
from licensary.audit.models import AuditEntry
from licensary.licenses.models import License


def visible_licenses(user: User) -> QuerySet[License]:
    return visible(License.objects.select_related("product"), user)


def license_history_entries(license: License) -> QuerySet[AuditEntry]:
    """The audit entries about `license`."""
    return AuditEntry.objects.filter(
        object_type="license", object_id=str(license.pk)
    ).select_related("actor")


def license_status_counts_at(moments: list[datetime]) -> list[dict[str, int]]:
    """How many licenses were active, blocked, canceled and deleted at each of `moments`, as
    each license's own dates tell (created, blocked, canceled, deleted at); one query
    whatever the number of licenses. A license renewed out of blocking no longer keeps its
    blocking date, so it counts as active for the days it was blocked."""
    if not moments:
        return []
    statuses = ("active", "blocked", "canceled", "deleted")
    aggregates = {}
    for i, at in enumerate(moments):
        exists = Q(created_at__lte=at)
        deleted = Q(deleted_at__lte=at)
        canceled = Q(canceled_at__lte=at) & ~deleted
        blocked = Q(blocked_at__lte=at) & ~Q(canceled_at__lte=at) & ~deleted
        active = exists & ~Q(blocked_at__lte=at) & ~Q(canceled_at__lte=at) & ~deleted
        for status, condition in zip(
            statuses, (active, blocked, exists & canceled, exists & deleted), strict=True
        ):
            aggregates[f"{status}_{i}"] = Count("id", filter=condition)
    counts = License.objects.aggregate(**aggregates)
    return [{status: counts[f"{status}_{i}"] for status in statuses} for i in range(len(moments))]
