"""The license lifecycle's single-license moves (rules 4 and 5); the rules themselves, pure,
are in `licenses.rules`.

Time-driven moves are made in bulk by `licenses.sweep`; the same steps restricted to one
license (`license_catch_up`) bring a license up to date before anything acts on it, so no
rule depends on the sweep having run on time.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.billing.models import Invoice, InvoiceLine
from licensary.billing.services import invoice_line_set_period
from licensary.licenses import events as license_events
from licensary.licenses.invoicing import license_refund_facts, product_refund_terms
from licensary.licenses.models import License
from licensary.licenses.rules import (
    check_transition,
    effective_status,
    license_require_renewable,
    renewal_terms,
)
from licensary.licenses.sweep import run_steps
from licensary.licenses.upstream import upstream_sync_enqueue

S = License.Status


def license_catch_up(*, license: License) -> License:
    """Walk every due time-driven transition of one license, in order, each recorded."""
    run_steps(license_ids=[license.pk])
    license.refresh_from_db()
    return license


def license_live_holder(*, product_id: int, ip: str) -> License | None:
    """The live license of (product, ip) by the rules, whether or not the sweep has run: one
    past its deletion date frees the slot (rule 3 with rule 5). Reads only; the issue that
    takes the slot brings such a row up to date first (`licenses.services.license_issue`)."""
    holder = License.objects.filter(product_id=product_id, ip=ip).exclude(status=S.DELETED).first()
    if holder is None or effective_status(holder, timezone.now()) == S.DELETED:
        return None
    return holder


def license_slot_catch_up(*, product_id: int, ip: str) -> None:
    """Record the due moves of the license on (product, ip), if it has one: before a license
    takes the slot, a holder past its deletion date is deleted, in its history too."""
    for stale in License.objects.filter(product_id=product_id, ip=ip).exclude(status=S.DELETED):
        license_catch_up(license=stale)


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
    before = license_events.license_snapshot(lic)
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
    upstream_sync_enqueue([lic.pk], renew=True)
    license_events.license_renewed(lic, before=before, why=reason, actor=actor)
    return lic


class RenewalLines:
    """Billing's handler for `renewal` lines: a paid one renews its license (rule 4)."""

    def on_paid(
        self, *, invoice: Invoice, paid_at: datetime, actor: User | None, check_only: bool
    ) -> None:
        for line in invoice.lines.filter(kind=InvoiceLine.Kind.RENEWAL).select_related("license"):
            assert line.license is not None, f"renewal line {line.pk} names no license"
            license_renew_paid(
                license=line.license, line=line, paid_at=paid_at, actor=actor, check_only=check_only
            )

    def refund_facts(self, invoice: Invoice) -> dict[str, object]:
        line = (
            invoice.lines.select_related("license__product")
            .filter(kind=InvoiceLine.Kind.RENEWAL)
            .first()
        )
        lic = line.license if line else None
        if lic is None:
            return {"delivered": False, "product_kind": None}
        facts: dict[str, object] = {"delivered": True, "product_kind": lic.product.kind}
        facts |= product_refund_terms(lic.product)
        return facts | license_refund_facts(invoice, lic)
