"""Reads of licenses: what a caller sees, and a license's audit history."""

from django.db.models import QuerySet

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
