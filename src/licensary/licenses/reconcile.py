"""Comparing our manufacturer licenses with a supplier's list, and repairing the differences.

Each upstream reference is compared with the one license that holds it: a deleted license
whose reference a live license holds is not its holder and is left out, so `--fix` never
ends the live license's upstream on a deleted one's behalf. An IP that differs while the
license's IP change is in flight is reported and left to that change.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from licensary.licenses.models import License
from licensary.licenses.upstream import license_sync_upstream, upstream_holder_recheck
from licensary.suppliers.base import SupplierError, UpstreamLicense, UpstreamStatus
from licensary.suppliers.models import UpstreamOperation
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_adapter

UP = UpstreamStatus


@dataclass
class Difference:
    problem: str
    reference: str
    ip: str
    license_id: int | None
    here: str
    upstream: str
    fixed: str = ""


def _observed(up: UpstreamLicense) -> str:
    return "active" if up.status == UP.ACTIVE else "suspended"


def reconcile(*, supplier: str, fix: bool = False) -> list[Difference]:
    adapter = supplier_adapter(supplier)
    upstream = {u.reference: u for u in adapter.list_all()}
    differences: list[Difference] = []
    ours = License.objects.filter(upstream_supplier=supplier).exclude(upstream_reference="")
    held_live = set(
        ours.exclude(status=License.Status.DELETED).values_list("upstream_reference", flat=True)
    )
    # Read after the listing: an IP change records its intent before it asks the supplier, so
    # a move the listing shows that is not made here yet has its intent here still pending.
    changing = set(
        UpstreamOperation.objects.filter(
            supplier=supplier, operation="change_ip", status=UpstreamOperation.Status.PENDING
        ).values_list("license_id", flat=True)
    )
    for lic in ours.select_related("product").order_by("pk"):
        if lic.status == License.Status.DELETED and lic.upstream_reference in held_live:
            continue  # not its holder: a deleted row naming a reference a live license holds
        up = upstream.pop(lic.upstream_reference, None)
        wanted = lic.upstream_wanted
        if up is None:
            if wanted != "terminated":
                differences.append(
                    Difference(
                        "missing_upstream",
                        lic.upstream_reference,
                        lic.ip,
                        lic.pk,
                        lic.status,
                        "absent",
                    )
                )
            continue
        problem = None
        if wanted == "active" and up.status != UP.ACTIVE:
            problem = "inactive_upstream_active_here"
        elif wanted in ("suspended", "terminated") and up.status == UP.ACTIVE:
            problem = f"active_upstream_{lic.status}_here"
        if problem:
            diff = Difference(problem, up.reference, lic.ip, lic.pk, lic.status, str(up.status))
            if fix:
                # Record what upstream really is; the sync then makes the one missing call.
                License.objects.filter(pk=lic.pk).update(upstream_status=_observed(up))
                license_sync_upstream(license_id=lic.pk)
                diff.fixed = f"{'resumed' if wanted == 'active' else wanted} upstream"
            differences.append(diff)
        if up.ip != lic.ip and wanted != "terminated":
            diff = Difference("ip_differs", up.reference, lic.ip, lic.pk, lic.ip, up.ip)
            if lic.pk in changing:
                # Its request (or the settling job after it) decides which IP wins; moving it
                # back now would leave the license here on the new IP and upstream on the old.
                diff.fixed = "left alone: an IP change is in flight"
            elif fix:
                license_sync_upstream(license_id=lic.pk, old_ip=up.ip)
                diff.fixed = f"moved upstream to {lic.ip}"
            differences.append(diff)
    in_flight = set(
        UpstreamOperation.objects.filter(
            supplier=supplier, status=UpstreamOperation.Status.PENDING
        ).values_list("ip", flat=True)
    )
    for up in upstream.values():
        if up.status != UP.ACTIVE:
            continue
        diff = Difference("unknown_here", up.reference, up.ip, None, "absent", str(up.status))
        if up.ip in in_flight:
            diff.fixed = "left alone: a delivery to this IP is in flight"
        elif fix:
            diff.fixed = _terminate_unheld(supplier=supplier, up=up)
        differences.append(diff)
    return differences


def _terminate_unheld(*, supplier: str, up: UpstreamLicense) -> str:
    """Nobody here holds it, yet we pay for it upstream: end it, unless that changed since the
    listing (checked again with the intent; a delivery that reuses it while the call is on
    its way has its new license checked after)."""
    with transaction.atomic():
        held = License.objects.filter(
            upstream_supplier=supplier, upstream_reference=up.reference
        ).exists()
        busy = UpstreamOperation.objects.filter(
            supplier=supplier, ip=up.ip, status=UpstreamOperation.Status.PENDING
        ).exists()
        if held or busy:
            return "left alone: taken up here since the listing"
        op = operation_start(
            supplier=supplier, operation="terminate", ip=up.ip, reference=up.reference
        )
    supplier_adapter(supplier).terminate(op.op_id, up.reference)
    with transaction.atomic():
        operation_finish(op, ok=True, reference=up.reference)
        upstream_holder_recheck(
            supplier=supplier,
            reference=up.reference,
            cause="reconcile terminated it as held by no license",
        )
    return "terminated upstream"


def differences_table(differences: list[Difference]) -> str:
    rows = [("problem", "reference", "ip", "license", "here", "upstream", "fixed")]
    rows += [
        (d.problem, d.reference, d.ip, str(d.license_id or "-"), d.here, d.upstream, d.fixed or "-")
        for d in differences
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


@dataclass
class SharedReference:
    """One upstream license that more than one live license names (old code could do that;
    migration licenses.0006 stops on it): `holders` are (license id, account id, IP, status),
    `upstream_ip` is where the supplier has it ("" when it could not be asked or lacks it)."""

    supplier: str
    reference: str
    holders: list[tuple[int, int, str, str]]
    upstream_ip: str


def shared_references(*, supplier: str | None = None) -> list[SharedReference]:
    """Upstream references held by more than one live license (at `supplier`, or anywhere),
    with where the supplier has each. Reads only columns that exist before migration
    licenses.0006, so it runs while that migration still stops on them."""
    live = License.objects.exclude(status=License.Status.DELETED).exclude(upstream_reference="")
    if supplier:
        live = live.filter(upstream_supplier=supplier)
    twice = (
        live.order_by()
        .values("upstream_supplier", "upstream_reference")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("upstream_supplier", "upstream_reference")
    )
    listings: dict[str, dict[str, str]] = {}
    shared = []
    for row in twice:
        supplier, reference = row["upstream_supplier"], row["upstream_reference"]
        if supplier not in listings:
            try:
                listings[supplier] = {
                    u.reference: u.ip for u in supplier_adapter(supplier).list_all()
                }
            except SupplierError:
                listings[supplier] = {}
        holders = list(
            live.filter(upstream_supplier=supplier, upstream_reference=reference)
            .order_by("pk")
            .values_list("pk", "account_id", "ip", "status")
        )
        shared.append(
            SharedReference(supplier, reference, holders, listings[supplier].get(reference, ""))
        )
    return shared


def shared_references_table(shared: list[SharedReference]) -> str:
    lines = [f"== {len(shared)} upstream license(s) held by more than one live license"]
    for item in shared:
        where = (
            f"{item.supplier} has it on {item.upstream_ip}"
            if item.upstream_ip
            else f"{item.supplier} could not say where it is: look it up in its panel"
        )
        lines.append(f"{item.supplier} {item.reference}: {where}")
        for pk, account, ip, status in item.holders:
            if not item.upstream_ip:
                verdict = "keeps it if the supplier has it on this IP"
            elif ip == item.upstream_ip:
                verdict = "keeps it"
            else:
                verdict = (
                    "give it its own upstream license on its IP (its id in "
                    "upstream_reference), or clear upstream_reference"
                )
            lines.append(f"  license {pk}  account {account}  {ip}  {status}  {verdict}")
    return "\n".join(lines)
