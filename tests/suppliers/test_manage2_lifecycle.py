"""Renew, suspend, resume, terminate, change IP and listing against the Manage2 simulator."""

from __future__ import annotations

import pytest

from licensary.suppliers.base import (
    Capabilities,
    IpTakenUpstream,
    Rejected,
    SupplierUnavailable,
    UnknownOutcome,
    UpstreamLicense,
    UpstreamStatus,
)

IP = "203.0.113.10"
NEW_IP = "203.0.113.20"


def statuses(control) -> dict[str, int]:
    return {item["licenseid"]: item["status"] for item in control.licenses()}


def test_manage2_declares_suspend_emulated_and_change_ip_native(supplier):
    assert supplier.capabilities() == Capabilities(
        native_suspend=False,
        native_change_ip=True,
        native_renew=False,
        tags_op_id=True,
        terminate_is_reversible=True,
    )


def test_terminate_expires_the_license_upstream(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    supplier.terminate("op-2", lic.reference)

    assert statuses(control) == {lic.reference: 2}


def test_terminating_twice_succeeds_both_times(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    supplier.terminate("op-2", lic.reference)
    supplier.terminate("op-2", lic.reference)

    assert statuses(control) == {lic.reference: 2}


def test_terminate_of_an_unknown_reference_is_success(supplier, control):
    supplier.terminate("op-1", "999999")

    assert control.licenses() == []


def test_a_slow_terminate_past_the_client_timeout_raises_unknown_outcome(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    control.fault("slow", ip=IP)

    with pytest.raises(UnknownOutcome) as caught:
        supplier.terminate("op-2", lic.reference)
    assert caught.value.op_id == "op-2"
    assert statuses(control) == {lic.reference: 2}


def test_suspend_then_resume_round_trips_through_expired(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    supplier.suspend("op-2", lic.reference)
    assert statuses(control) == {lic.reference: 2}
    assert supplier.find(solo, IP).status is UpstreamStatus.EXPIRED

    supplier.resume("op-3", lic.reference)
    assert statuses(control) == {lic.reference: 1}
    assert supplier.find(solo, IP).status is UpstreamStatus.ACTIVE


def test_suspend_and_resume_are_idempotent(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    supplier.suspend("op-2", lic.reference)
    supplier.suspend("op-2", lic.reference)
    supplier.resume("op-3", lic.reference)
    supplier.resume("op-3", lic.reference)

    assert statuses(control) == {lic.reference: 1}


def test_resume_of_an_unknown_reference_is_rejected(supplier):
    with pytest.raises(Rejected) as caught:
        supplier.resume("op-1", "999999")
    assert caught.value.reason == "License not found"


def test_resume_when_another_company_took_the_ip_raises_ip_taken(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    supplier.suspend("op-2", lic.reference)
    control.foreign(IP)

    with pytest.raises(IpTakenUpstream):
        supplier.resume("op-3", lic.reference)
    assert statuses(control) == {lic.reference: 2}


def test_resume_without_credit_raises_supplier_unavailable(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    supplier.suspend("op-2", lic.reference)
    control.fault("out_of_stock")

    with pytest.raises(SupplierUnavailable):
        supplier.resume("op-3", lic.reference)


def test_renew_of_an_active_license_changes_nothing(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    supplier.renew("op-2", lic.reference)

    assert statuses(control) == {lic.reference: 1}


def test_renew_of_a_license_expired_upstream_reactivates_it(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    control.expire(lic.reference)

    supplier.renew("op-2", lic.reference)

    assert statuses(control) == {lic.reference: 1}


def test_renew_of_a_license_suspended_by_the_manufacturer_is_rejected(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    response = control.http.post("/_control/suspend", json={"licenseid": lic.reference})
    assert response.status_code == 200

    with pytest.raises(Rejected):
        supplier.renew("op-2", lic.reference)
    assert supplier.find(solo, IP).status is UpstreamStatus.SUSPENDED


def test_change_ip_moves_the_same_license_to_the_new_ip(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)

    moved = supplier.change_ip("op-2", lic.reference, solo, IP, NEW_IP)

    assert moved == UpstreamLicense(lic.reference, NEW_IP, "P1", UpstreamStatus.ACTIVE, "op-1")
    assert [(item["licenseid"], item["ip"]) for item in control.licenses()] == [
        (lic.reference, NEW_IP)
    ]
    assert supplier.find(solo, IP) is None


def test_change_ip_repeated_after_an_unknown_outcome_succeeds_without_a_second_move(
    supplier, control, solo
):
    lic = supplier.provision("op-1", solo, IP)
    control.fault("drop_after_act", function="XMLtransfer")

    with pytest.raises(UnknownOutcome):
        supplier.change_ip("op-2", lic.reference, solo, IP, NEW_IP)
    moved = supplier.change_ip("op-2", lic.reference, solo, IP, NEW_IP)

    assert moved.reference == lic.reference
    assert moved.ip == NEW_IP
    assert len(control.licenses()) == 1


def test_rule11_change_ip_whose_confirming_lookup_fails_answers_the_move_it_made(
    supplier, control, solo
):
    lic = supplier.provision("op-1", solo, IP)
    # The lookup before the transfer passes; the one after it (confirming the move) fails.
    control.fault("http_500", function="XMLlookup", ip=NEW_IP, skip=1)

    moved = supplier.change_ip("op-2", lic.reference, solo, IP, NEW_IP)

    assert (moved.reference, moved.ip) == (lic.reference, NEW_IP)
    assert [item["ip"] for item in control.licenses()] == [NEW_IP]


def test_change_ip_to_an_ip_held_by_another_company_raises_ip_taken(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    control.foreign(NEW_IP)

    with pytest.raises(IpTakenUpstream):
        supplier.change_ip("op-2", lic.reference, solo, IP, NEW_IP)
    assert [item["ip"] for item in control.licenses()] == [IP]


def test_change_ip_onto_another_of_our_licenses_is_rejected(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    supplier.provision("op-2", solo, NEW_IP)

    with pytest.raises(Rejected):
        supplier.change_ip("op-3", lic.reference, solo, IP, NEW_IP)
    assert sorted(item["ip"] for item in control.licenses()) == [IP, NEW_IP]


def test_find_returns_none_for_an_ip_without_our_license(supplier, solo):
    assert supplier.find(solo, IP) is None


def test_list_all_returns_active_and_expired_licenses(supplier, control, solo, admin):
    a = supplier.provision("op-1", solo, IP)
    b = supplier.provision("op-2", admin, NEW_IP)
    supplier.terminate("op-3", b.reference)

    listed = sorted(supplier.list_all(), key=lambda lic: lic.ip)

    assert listed == [
        UpstreamLicense(a.reference, IP, "P1", UpstreamStatus.ACTIVE, "op-1"),
        UpstreamLicense(b.reference, NEW_IP, "P2", UpstreamStatus.EXPIRED, "op-2"),
    ]


def test_list_all_sees_drift_made_behind_our_back(supplier, control, solo):
    lic = supplier.provision("op-1", solo, IP)
    control.expire(lic.reference)

    assert [x.status for x in supplier.list_all()] == [UpstreamStatus.EXPIRED]


def test_list_all_of_an_empty_account_is_empty(supplier):
    assert supplier.list_all() == []
