"""Issuing licenses and asking to renew them."""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.services import account_require_in_good_standing
from licensary.audit.services import Change, audit_record
from licensary.billing.models import Invoice
from licensary.core.errors import (
    DomainError,
    InvalidTransition,
    IpTaken,
    PermissionDenied,
    ValidationFailed,
)
from licensary.core.ip import normalize_license_ip
from licensary.licenses.lifecycle import (
    current_period_start,
    license_catch_up,
    license_live_holder,
    license_require_renewable,
    license_snapshot,
    period,
)
from licensary.licenses.models import License, UnresolvableProblem


class SlotTaken(Exception):
    """The (product, IP) slot already has a live license (rule 3)."""

    def __init__(self, holder: License | None) -> None:
        super().__init__("slot taken")
        self.holder = holder


def license_issue(*, order: "object", actor: User | None,
                  upstream: "tuple[str, Any] | None" = None) -> License:
    """Create the active license an order paid for; raises `SlotTaken` if the IP is held.

    `upstream` is (supplier name, UpstreamLicense) for a manufacturer license.
    """
    from licensary.orders.models import Order

    assert isinstance(order, Order)
    now = timezone.now()
    holder = license_live_holder(product_id=order.product_id, ip=order.ip)
    if holder is not None:
        raise SlotTaken(holder)
    try:
        with transaction.atomic():
            lic = License.objects.create(
                account_id=order.account_id, product_id=order.product_id,
                kind=order.product.kind, ip=order.ip, status=License.Status.ACTIVE,
                created_at=now, period_start=now, period_end=now + period(),
                upstream_supplier=upstream[0] if upstream else "",
                upstream_reference=upstream[1].reference if upstream else "",
                upstream_status=str(upstream[1].status) if upstream else "",
            )
    except IntegrityError as exc:  # lost the race for the slot to another order
        raise SlotTaken(None) from exc
    audit_record(Change(action="license.issued", object_type="license", object_id=lic.pk,
                        actor=actor, actor_label="" if actor else "system:delivery",
                        account_id=lic.account_id, after=license_snapshot(lic),
                        reason=f"order {order.pk} paid"))
    return lic


def license_renewal_invoice(*, license: License, actor: User) -> Invoice:
    """The license's open renewal invoice, issuing one if there is none (rules 4 and 5)."""
    account_require_in_good_standing(actor)
    account_require_in_good_standing(license.account)
    with transaction.atomic():
        license_catch_up(license=license)
        lic = License.objects.select_for_update().select_related("product", "account").get(
            pk=license.pk)
        license_require_renewable(lic)
        open_invoice = Invoice.objects.filter(
            status=Invoice.Status.UNPAID, lines__kind="renewal", lines__license=lic).first()
        if open_invoice is not None:
            return open_invoice
        from licensary.licenses.sweep import issue_renewal_invoices

        invoice_id = issue_renewal_invoices([lic], now=timezone.now())[0]
        return Invoice.objects.get(pk=invoice_id)


def license_change_ip(*, license: License, ip: str, actor: User) -> License:
    """Move a license to another IP: at most 3 times a period, and never onto a live slot."""
    from licensary.suppliers.sync import upstream_sync_enqueue

    account_require_in_good_standing(actor)
    new_ip = normalize_license_ip(ip)
    limit = settings.LICENSARY["IP_CHANGES_PER_PERIOD"]
    with transaction.atomic():
        license_catch_up(license=license)
        lic = License.objects.select_for_update().get(pk=license.pk)
        if lic.status != License.Status.ACTIVE:
            raise InvalidTransition(f"Only an active license changes IP; this one is {lic.status}.")
        if new_ip == lic.ip:
            raise DomainError("The license is on that IP already.", code="validation_error",
                              status=422)
        # The count belongs to the period it was made in; a new period starts from zero.
        counted_from = current_period_start(lic, timezone.now())
        used = lic.ip_changes_in_period if lic.ip_changes_period_start == counted_from else 0
        if used >= limit:
            raise DomainError(f"At most {limit} IP changes per period.", code="ip_change_limit",
                              status=409)
        old_ip = lic.ip
        try:
            with transaction.atomic():
                License.objects.filter(pk=lic.pk, ip=old_ip).update(
                    ip=new_ip, ip_changes_in_period=used + 1,
                    ip_changes_period_start=counted_from)
        except IntegrityError as exc:
            raise IpTaken(f"{new_ip} already has a license for this product.") from exc
        lic.refresh_from_db()
        audit_record(Change(action="license.ip_changed", object_type="license", object_id=lic.pk,
                            actor=actor, account_id=lic.account_id, before={"ip": old_ip},
                            after={"ip": new_ip, "changes_in_period": lic.ip_changes_in_period}))
        upstream_sync_enqueue([lic.pk], old_ip=old_ip)
    return lic


def license_mark_unresolvable(*, license: License, actor: User, note: str,
                              ticket: str = "") -> UnresolvableProblem:
    """Staff record that a licensing problem of an own license cannot be solved (rule 7)."""
    if not actor.is_staff_account:
        raise PermissionDenied("Only staff mark problems unresolvable.")
    if license.kind != License.Kind.OWN:
        raise ValidationFailed("Only own licenses are refunded for unresolvable problems.")
    if not note.strip():
        raise ValidationFailed("Describe the problem.")
    with transaction.atomic():
        mark = UnresolvableProblem.objects.create(license=license, ticket=ticket[:100],
                                                  note=note[:300], marked_by=actor,
                                                  marked_at=timezone.now())
        audit_record(Change(action="license.problem_unresolvable", object_type="license",
                            object_id=license.pk, actor=actor, account_id=license.account_id,
                            after={"ticket": ticket}, reason=note))
    return mark
