"""Reads of the supplier accounts for staff: each one's health as this app records it."""

from datetime import datetime

from django.db.models import Count, OuterRef, QuerySet, Subquery

from licensary.suppliers.models import SupplierAccount, UpstreamOperation

OPS = UpstreamOperation.Status


def suppliers_with_health(*, since: datetime) -> QuerySet[SupplierAccount]:
    """Every supplier account by name, each with its upstream operations since `since` counted
    by outcome (`ops_succeeded`, `ops_failed`, `ops_pending`) and its latest failure
    (`last_error`, `last_error_at`), in one query. Its switch (`active`) and its last alert
    (`last_alert`, `last_alert_at`) are its own columns."""
    ops = UpstreamOperation.objects.filter(supplier=OuterRef("name"))
    recent = ops.filter(created_at__gte=since).values("supplier")
    failed = ops.filter(status=OPS.FAILED).order_by("-created_at", "-pk")

    def counted(status: str) -> Subquery:
        return Subquery(recent.filter(status=status).annotate(n=Count("pk")).values("n")[:1])

    return SupplierAccount.objects.annotate(
        ops_succeeded=counted(OPS.SUCCEEDED),
        ops_failed=counted(OPS.FAILED),
        ops_pending=counted(OPS.PENDING),
        last_error=Subquery(failed.values("error")[:1]),
        last_error_at=Subquery(failed.values("created_at")[:1]),
    ).order_by("name")


def supplier_get(name: str) -> SupplierAccount | None:
    return SupplierAccount.objects.filter(name=name).first()
