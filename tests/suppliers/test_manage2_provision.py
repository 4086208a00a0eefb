"""Provisioning a manufacturer license through Manage2: idempotent, and every failure typed."""

from __future__ import annotations

import threading

import pytest

from licensary.suppliers.base import (
    IpState,
    IpTakenUpstream,
    Rejected,
    SupplierError,
    SupplierUnavailable,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
    UpstreamStatus,
)
from licensary.suppliers.manage2 import Manage2Supplier

IP = "203.0.113.10"


def test_provision_adds_an_active_license_tagged_with_the_op_id(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    assert lic == UpstreamLicense(lic.reference, IP, "P1", UpstreamStatus.ACTIVE, "op-1")
    assert control.licenses() == [
        {
            "licenseid": lic.reference,
            "ip": IP,
            "packageid": "P1",
            "status": 1,
            "external_notes": "op-1",
        }
    ]


def test_provisioning_twice_with_the_same_op_id_and_ip_makes_one_upstream_license(
    supplier, control, solo
):
    first = supplier.provision("op-1", solo, IP)
    second = supplier.provision("op-1", solo, IP)

    assert second == first
    assert len(control.licenses()) == 1


def test_concurrent_provisions_of_one_ip_share_one_upstream_license(simulator, control, solo):
    results: list[UpstreamLicense] = []
    errors: list[Exception] = []

    def attempt(n: int) -> None:
        with Manage2Supplier("sim", simulator.url, "sim", "sim", timeout=5.0) as sup:
            try:
                results.append(sup.provision(f"op-{n}", solo, IP))
            except SupplierError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({lic.reference for lic in results}) == 1
    assert len(control.licenses()) == 1


def test_provision_on_an_ip_licensed_by_another_company_raises_ip_taken(supplier, control, solo):
    control.foreign(IP, "P1")

    with pytest.raises(IpTakenUpstream):
        supplier.provision("op-1", solo, IP)
    assert control.licenses() == []


def test_ip_taken_fault_raises_ip_taken_and_buys_nothing(supplier, control, solo):
    control.fault("ip_taken", ip=IP)

    with pytest.raises(IpTakenUpstream):
        supplier.provision("op-1", solo, IP)
    assert control.licenses() == []


def test_ip_taken_on_the_add_itself_raises_ip_taken(supplier, control, solo):
    # The lookup said free, then another company took the IP before our add landed.
    control.fault("ip_taken", function="XMLlicenseAdd")

    with pytest.raises(IpTakenUpstream) as caught:
        supplier.provision("op-1", solo, IP)
    assert caught.value.reason == "This IP address is already licensed by another company"
    assert caught.value.function == "XMLlicenseAdd"


def test_a_fault_for_another_ip_does_not_touch_this_one(supplier, control, solo):
    control.fault("ip_taken", ip="198.51.100.7")

    lic = supplier.provision("op-1", solo, IP)

    assert lic.status is UpstreamStatus.ACTIVE


def test_out_of_stock_raises_supplier_unavailable(supplier, control, solo):
    control.fault("out_of_stock")

    with pytest.raises(SupplierUnavailable) as caught:
        supplier.provision("op-1", solo, IP)
    assert "out of stock" in caught.value.reason
    assert control.licenses() == []


def test_a_locked_account_raises_supplier_unavailable(supplier, control, solo):
    control.fault("account_locked")

    with pytest.raises(SupplierUnavailable):
        supplier.provision("op-1", solo, IP)


def test_a_package_the_supplier_does_not_offer_raises_supplier_unavailable(
    supplier, control, unoffered
):
    with pytest.raises(SupplierUnavailable) as caught:
        supplier.provision("op-1", unoffered, IP)
    assert "package" in caught.value.reason.lower()
    assert control.licenses() == []


def test_an_invalid_ip_is_rejected_with_the_suppliers_reason(supplier, solo):
    with pytest.raises(Rejected) as caught:
        supplier.provision("op-1", solo, "not-an-ip")
    assert caught.value.reason == "Invalid IP address"


def test_http_500_raises_transient_and_a_retry_succeeds(supplier, control, solo):
    control.fault("http_500")

    with pytest.raises(Transient):
        supplier.provision("op-1", solo, IP)
    assert control.licenses() == []
    lic = supplier.provision("op-1", solo, IP)
    assert [item["licenseid"] for item in control.licenses()] == [lic.reference]


def test_a_slow_add_past_the_client_timeout_raises_unknown_outcome(supplier, control, solo):
    control.fault("slow", function="XMLlicenseAdd")

    with pytest.raises(UnknownOutcome) as caught:
        supplier.provision("op-1", solo, IP)
    assert caught.value.op_id == "op-1"
    assert caught.value.function == "XMLlicenseAdd"
    # The simulator acted before answering late: the license exists upstream.
    assert len(control.licenses()) == 1


def test_a_slow_lookup_past_the_client_timeout_is_only_transient(supplier, control, solo):
    control.fault("slow", function="XMLlookup")

    with pytest.raises(Transient):
        supplier.provision("op-1", solo, IP)
    assert control.licenses() == []


def test_a_dropped_connection_after_the_add_is_unknown_then_a_retry_returns_that_license(
    supplier, control, solo
):
    control.fault("drop_after_act", ip=IP)

    with pytest.raises(UnknownOutcome):
        supplier.provision("op-1", solo, IP)
    retried = supplier.provision("op-1", solo, IP)

    items = control.licenses()
    assert len(items) == 1
    assert retried.reference == items[0]["licenseid"]
    assert retried.status is UpstreamStatus.ACTIVE
    assert retried.note == "op-1"


def test_provision_reactivates_our_own_expired_license_on_that_ip(supplier, control, solo):
    old = supplier.provision("op-1", solo, IP)
    control.expire(old.reference)

    again = supplier.provision("op-2", solo, IP)

    assert again.reference == old.reference
    assert again.status is UpstreamStatus.ACTIVE
    assert [item["status"] for item in control.licenses()] == [1]


def test_check_ip_tells_free_ours_and_foreign(supplier, control, solo):
    assert supplier.check_ip(solo, IP).state is IpState.FREE

    lic = supplier.provision("op-1", solo, IP)
    ours = supplier.check_ip(solo, IP)
    assert ours.state is IpState.OURS
    assert ours.reference == lic.reference

    control.foreign("198.51.100.7")
    foreign = supplier.check_ip(solo, "198.51.100.7")
    assert foreign.state is IpState.FOREIGN
    assert foreign.reference is None


def test_one_ip_holds_separate_licenses_for_separate_packages(supplier, control, solo, admin):
    a = supplier.provision("op-1", solo, IP)
    b = supplier.provision("op-2", admin, IP)

    assert a.reference != b.reference
    assert sorted(item["packageid"] for item in control.licenses()) == ["P1", "P2"]
