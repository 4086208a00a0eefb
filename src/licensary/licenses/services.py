"""Issuing licenses and asking to renew them."""

from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.policy import require_staff
from licensary.accounts.services import account_require_in_good_standing
from licensary.billing.models import Invoice
from licensary.catalog.models import Product
from licensary.core.errors import (
    DomainError,
    InvalidTransition,
    IpTaken,
    PermissionDenied,
    ValidationFailed,
)
from licensary.core.ip import normalize_license_ip
from licensary.licenses import events as license_events
from licensary.licenses.invoicing import issue_renewal_invoices
from licensary.licenses.lifecycle import (
    license_catch_up,
    license_live_holder,
    license_slot_catch_up,
)
from licensary.licenses.models import License, UnresolvableProblem
from licensary.licenses.rules import current_period_start, license_require_renewable, period
from licensary.licenses.upstream_ip_change import (
    ip_change_abandon,
    ip_change_call,
    ip_change_done,
    ip_change_intent,
    ip_change_still_pending,
)
from licensary.suppliers.base import (
    IpTakenUpstream,
    SupplierError,
    SupplierUnavailable,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
)


class SlotTaken(Exception):
    """The (product, IP) slot already has a live license (rule 3)."""

    def __init__(self, holder: License | None) -> None:
        super().__init__("slot taken")
        self.holder = holder


class UpstreamReferenceTaken(SlotTaken):
    """The upstream license offered for a new license already belongs to a live one."""


def _live_upstream_holder(*, supplier: str, reference: str) -> License | None:
    return (
        License.objects.filter(upstream_supplier=supplier, upstream_reference=reference)
        .exclude(status=License.Status.DELETED)
        .first()
    )


class PaidOrder(Protocol):
    """What issuing a license reads of the order that paid for it (orders' Order is one)."""

    @property
    def pk(self) -> Any: ...  # the model's primary key, typed Any by Django
    @property
    def account_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def product(self) -> Product: ...
    @property
    def ip(self) -> str: ...
    @property
    def invoice(self) -> Invoice: ...  # its payer: the account, or the agent that sold it


def license_issue(
    *, order: PaidOrder, actor: User | None, upstream: tuple[str, UpstreamLicense] | None = None
) -> License:
    """Create the active license an order paid for; raises `SlotTaken` if the IP is held.

    `upstream` is (supplier name, UpstreamLicense) for a manufacturer license. An upstream
    license belongs to one live license: `UpstreamReferenceTaken` if a live one holds it, and
    a deleted one that held it (the same IP ordered again) releases it here, in the same
    transaction, keeping it as its former reference.
    """
    now = timezone.now()
    holder = license_live_holder(product_id=order.product_id, ip=order.ip)
    if holder is not None:
        raise SlotTaken(holder)
    license_slot_catch_up(product_id=order.product_id, ip=order.ip)
    supplier, reference = (upstream[0], upstream[1].reference) if upstream else ("", "")
    if reference:
        holder = _live_upstream_holder(supplier=supplier, reference=reference)
        if holder is not None:
            raise UpstreamReferenceTaken(holder)
    try:
        with transaction.atomic():
            # Locked before the new row exists: a late sync job of a deleted holder checks its
            # row under this lock before calling the supplier, so it sees the release.
            former = (
                list(
                    License.objects.select_for_update()
                    .filter(
                        status=License.Status.DELETED,
                        upstream_supplier=supplier,
                        upstream_reference=reference,
                    )
                    .order_by("pk")
                )
                if reference
                else []
            )
            payer = order.invoice.account_id
            lic = License.objects.create(
                account_id=order.account_id,
                billed_to_id=payer if payer != order.account_id else None,
                product_id=order.product_id,
                kind=order.product.kind,
                ip=order.ip,
                status=License.Status.ACTIVE,
                created_at=now,
                period_start=now,
                period_end=now + period(),
                upstream_supplier=supplier,
                upstream_reference=reference,
                upstream_status=str(upstream[1].status) if upstream else "",
            )
    except IntegrityError as exc:  # lost the race for the slot (or the reference)
        if reference:
            holder = _live_upstream_holder(supplier=supplier, reference=reference)
            if holder is not None:
                raise UpstreamReferenceTaken(holder) from exc
        raise SlotTaken(None) from exc
    license_events.license_issued(lic, order_id=order.pk, actor=actor)
    for old in former:
        _license_release_upstream(license=old, to=lic, actor=actor)
    return lic


def _license_release_upstream(*, license: License, to: License, actor: User | None) -> None:
    """A deleted license lets go of the upstream reference `to` now holds (in the caller's
    transaction, the row locked)."""
    reference = license.upstream_reference
    License.objects.filter(
        pk=license.pk, status=License.Status.DELETED, upstream_reference=reference
    ).update(
        upstream_reference="",
        upstream_former_reference=reference,
        upstream_status="released",
        upstream_error="",
    )
    license_events.license_upstream_released(license, reference=reference, held_by=to, actor=actor)


def license_renewal_invoice(*, license: License, actor: User) -> Invoice:
    """The license's open renewal invoice, issuing one if there is none (rules 4 and 5)."""
    account_require_in_good_standing(actor)
    account_require_in_good_standing(license.account)
    if license.billed_to_id and actor.pk == license.account_id:
        raise PermissionDenied("Your agent renews this license for you; ask your agent.")
    with transaction.atomic():
        license_catch_up(license=license)
        lic = (
            License.objects.select_for_update()
            .select_related("product", "account")
            .get(pk=license.pk)
        )
        license_require_renewable(lic)
        open_invoice = Invoice.objects.filter(
            status=Invoice.Status.UNPAID, lines__kind="renewal", lines__license=lic
        ).first()
        if open_invoice is not None:
            return open_invoice
        invoice_id = issue_renewal_invoices([lic], now=timezone.now())[0]
        return Invoice.objects.get(pk=invoice_id)


def license_change_ip(*, license: License, ip: str, actor: User) -> License:
    """Move a license to another IP: at most 3 times a period, and never onto a live slot.

    A manufacturer license moves at its supplier first: the intent is committed, the supplier
    is asked outside any transaction, and the IP here changes (and the change counts) only
    once the supplier accepted, under a fresh lock that checks again. A refusal changes
    nothing on either side, uses up no change, is in the license's history, and answers with
    its cause: `ip_registered_upstream`, `ip_change_refused` (409) or `supplier_unavailable`
    (503: nothing changed; try again); `ip_change_abandoned` (409) when the request took so
    long that the settling job gave up on it meanwhile (the supplier is put back).
    """
    account_require_in_good_standing(actor)
    new_ip = normalize_license_ip(ip)
    license_catch_up(license=license)
    holder = license_live_holder(product_id=license.product_id, ip=new_ip)
    if holder is not None and holder.pk != license.pk:  # itself: "on that IP already", below
        raise IpTaken(f"{new_ip} already has a license for this product.")
    if holder is None:
        license_slot_catch_up(product_id=license.product_id, ip=new_ip)
    with transaction.atomic():
        lic = License.objects.select_for_update().select_related("product").get(pk=license.pk)
        _ip_change_check(lic, new_ip=new_ip)
        old_ip = lic.ip
        if lic.kind != License.Kind.MANUFACTURER or not lic.upstream_reference:
            return _ip_change_apply(license_id=lic.pk, old_ip=old_ip, new_ip=new_ip, actor=actor)
        op = ip_change_intent(license=lic, new_ip=new_ip)
    try:
        moved = ip_change_call(op=op, license=lic, new_ip=new_ip)
    except SupplierError as exc:
        raise _ip_change_refused(lic, new_ip=new_ip, actor=actor, exc=exc) from exc
    return _ip_change_apply(
        license_id=lic.pk, old_ip=old_ip, new_ip=new_ip, actor=actor, upstream=(op.op_id, moved)
    )


def _ip_change_check(lic: License, *, new_ip: str) -> None:
    limit = settings.LICENSARY["IP_CHANGES_PER_PERIOD"]
    if lic.status != License.Status.ACTIVE:
        raise InvalidTransition(f"Only an active license changes IP; this one is {lic.status}.")
    if new_ip == lic.ip:
        raise DomainError("The license is on that IP already.", code="validation_error", status=422)
    used, _ = _ip_changes_used(lic)
    if used >= limit:
        raise DomainError(
            f"At most {limit} IP changes per period.", code="ip_change_limit", status=409
        )


def _ip_changes_used(lic: License) -> tuple[int, datetime]:
    """The changes already made in the current period, and that period's start: the count
    belongs to the period it was made in (an early renewal keeps it), a new period starts
    from zero."""
    counted_from = current_period_start(lic, timezone.now())
    used = lic.ip_changes_in_period if lic.ip_changes_period_start == counted_from else 0
    return used, counted_from


def _ip_change_apply(
    *,
    license_id: int,
    old_ip: str,
    new_ip: str,
    actor: User,
    upstream: "tuple[str, Any] | None" = None,
) -> License:
    """Make the IP change here and count it, under the row lock, with its audit entry.

    `upstream` is (op_id, UpstreamLicense) when the supplier has already moved the license:
    the intent closes in this transaction, and if the change cannot be made here after all
    (the settling job gave up on the intent meanwhile, the license changed IP or stopped
    being active) the supplier is asked to move it back.
    """
    refusal: DomainError | None = None
    with transaction.atomic():
        lic = License.objects.select_for_update().get(pk=license_id)
        pending = upstream is not None and ip_change_still_pending(op_id=upstream[0])
        if upstream is not None and lic.ip == new_ip:  # a concurrent request made this change
            if pending:
                ip_change_done(op_id=upstream[0], moved=upstream[1])
            return lic
        if upstream is not None and not pending:
            refusal = DomainError(
                f"The change took too long to complete and was abandoned; the license stays on "
                f"{old_ip} and the supplier is put back there. Try again.",
                code="ip_change_abandoned",
                status=409,
            )
        elif lic.ip != old_ip:
            refusal = InvalidTransition("The license changed IP meanwhile; try again.")
        elif lic.status != License.Status.ACTIVE:  # blocked or banned while the supplier moved it
            refusal = InvalidTransition(
                f"The license became {lic.status} meanwhile; it stays on {old_ip}."
            )
        else:
            used, counted_from = _ip_changes_used(lic)
            try:
                with transaction.atomic():
                    License.objects.filter(pk=lic.pk, ip=old_ip).update(
                        ip=new_ip,
                        ip_changes_in_period=used + 1,
                        ip_changes_period_start=counted_from,
                        **({"upstream_reference": upstream[1].reference} if upstream else {}),
                    )
            except IntegrityError:
                refusal = IpTaken(f"{new_ip} already has a license for this product.")
        if refusal is not None:
            if upstream is None:
                raise refusal
            # The supplier moved it, but it cannot move here: upstream follows the license.
            ip_change_abandon(op_id=upstream[0], reason=f"not made here: {refusal.detail}")
            license_events.license_ip_change_refused(
                lic, new_ip=new_ip, code=refusal.code, why=refusal.detail, actor=actor
            )
        else:
            lic.refresh_from_db()
            if upstream is not None:
                ip_change_done(op_id=upstream[0], moved=upstream[1])
            license_events.license_ip_changed(lic, old_ip=old_ip, actor=actor)
    if refusal is not None:
        raise refusal
    return lic


# What a supplier's refusal of an IP change tells the caller: (code, HTTP status, detail).
IP_CHANGE_REFUSALS: list[tuple[type[SupplierError], str, int, str]] = [
    (
        IpTakenUpstream,
        "ip_registered_upstream",
        409,
        "The manufacturer says {ip} is registered by someone else: {reason}",
    ),
    (
        SupplierUnavailable,
        "supplier_unavailable",
        503,
        "The supplier cannot move the license now ({reason}); nothing changed. Try again later.",
    ),
    (
        Transient,
        "supplier_unavailable",
        503,
        "The supplier could not be reached ({reason}); nothing changed. Try again.",
    ),
    (
        UnknownOutcome,
        "supplier_unavailable",
        503,
        "The supplier did not confirm the change ({reason}); the license stays on its IP. "
        "Try again.",
    ),
    (SupplierError, "ip_change_refused", 409, "The supplier refused to move the license: {reason}"),
]


def _ip_change_refused(
    lic: License, *, new_ip: str, actor: User, exc: SupplierError
) -> DomainError:
    """The answer to a refused IP change, its history entry written (the license unchanged)."""
    code, status, text = next(
        (code, status, text)
        for kind, code, status, text in IP_CHANGE_REFUSALS
        if isinstance(exc, kind)
    )
    reason = exc.reason
    with transaction.atomic():
        license_events.license_ip_change_refused(
            lic, new_ip=new_ip, code=code, why=reason, actor=actor
        )
    return DomainError(text.format(ip=new_ip, reason=reason), code=code, status=status)


def license_mark_unresolvable(
    *, license: License, actor: User, note: str, ticket: str = ""
) -> UnresolvableProblem:
    """Staff record that a licensing problem of an own license cannot be solved (rule 7)."""
    require_staff(actor, "mark problems unresolvable")
    if license.kind != License.Kind.OWN:
        raise ValidationFailed("Only own licenses are refunded for unresolvable problems.")
    if not note.strip():
        raise ValidationFailed("Describe the problem.")
    with transaction.atomic():
        mark = UnresolvableProblem.objects.create(
            license=license,
            ticket=ticket[:100],
            note=note[:300],
            marked_by=actor,
            marked_at=timezone.now(),
        )
        license_events.license_problem_unresolvable(license, ticket=ticket, note=note, actor=actor)
    return mark
