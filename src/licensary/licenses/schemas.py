"""What the licenses API takes and answers: its schemas and the renderers of a license and of
its history."""

from datetime import datetime
from typing import Annotated

from django.utils import timezone
from ninja import Schema

from licensary.accounts.models import User
from licensary.accounts.selectors import history_actor
from licensary.audit.models import AuditEntry
from licensary.catalog.models import Product, kind_words
from licensary.core.text import Printable, column
from licensary.licenses.models import License
from licensary.licenses.rules import effective_state

# The `?product=` of a list: a product's slug.
ProductFilter = Annotated[str, Printable(column(Product, "slug"))]


class UpstreamOut(Schema):
    supplier: str
    reference: str
    status: str
    in_step: bool
    error: str


class ChangeIpIn(Schema):
    ip: Annotated[str, Printable(64)]  # checked and made canonical by the service (`invalid_ip`)


class LicenseOut(Schema):
    id: str
    account: str
    product: str
    kind: str
    kind_label: str  # rule 9: "system license" (own) or "original license" (manufacturer)
    ip: str
    status: str
    period_start: datetime
    period_end: datetime
    blocked_at: datetime | None
    canceled_at: datetime | None
    deleted_at: datetime | None
    renewable_until: datetime | None
    cancel_reason: str | None
    upstream: UpstreamOut | None
    billed_to: str | None  # the agent invoiced its renewals; null: the owner pays for itself


class HistoryOut(Schema):
    id: str
    at: datetime
    actor: str
    action: str
    before: dict
    after: dict
    reason: str


def license_out(lic: License) -> dict:
    # What verification answers now, whether or not the sweep has recorded it yet (rule 5).
    state = effective_state(lic, timezone.now())
    return {
        "id": str(lic.pk),
        "account": str(lic.account_id),
        "product": lic.product.slug,
        "kind": lic.kind,
        "kind_label": kind_words(lic.kind),
        "ip": lic.ip,
        "status": state.status,
        "period_start": lic.period_start,
        "period_end": lic.period_end,
        "blocked_at": state.blocked_at,
        "canceled_at": state.canceled_at,
        "deleted_at": state.deleted_at,
        "renewable_until": state.renewable_until,
        "cancel_reason": state.cancel_reason or None,
        "upstream": {
            "supplier": lic.upstream_supplier,
            "reference": lic.upstream_reference,
            "status": lic.upstream_status,
            "in_step": lic.upstream_in_step,
            "error": lic.upstream_error,
        }
        if lic.kind == License.Kind.MANUFACTURER
        else None,
        "billed_to": str(lic.billed_to_id) if lic.billed_to_id else None,
    }


def history_out(e: AuditEntry, viewer: User) -> dict:
    return {
        "id": str(e.pk),
        "at": e.created_at,
        "actor": history_actor(e, viewer),
        "action": e.action,
        "before": e.before,
        "after": e.after,
        "reason": e.reason,
    }
