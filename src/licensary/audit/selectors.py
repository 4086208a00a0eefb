"""Reads of the audit log across objects: how many changes were recorded, hour by hour."""

from datetime import datetime

from django.db.models import Count
from django.db.models.functions import TruncHour

from licensary.audit.models import AuditEntry


def audit_entries_per_hour(*, since: datetime) -> dict[datetime, int]:
    """Audit entries (every recorded change) per hour from `since`, by the hour's start; one
    query. Hours without an entry are absent."""
    rows = (
        AuditEntry.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
    )
    return {row["hour"]: row["n"] for row in rows}
