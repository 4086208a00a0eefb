"""The emulation helpers for suppliers that lack a native suspend or IP change."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from licensary.suppliers.base import (
    Capabilities,
    ChangeIpByReprovision,
    IpCheck,
    IpState,
    IpTakenUpstream,
    ProductLike,
    SuspendByExpiry,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
    UpstreamStatus,
)


@dataclass(frozen=True)
class Product:
    slug: str
    upstream_package: str


class InMemorySupplier(SuspendByExpiry, ChangeIpByReprovision):
    """A minimal supplier with neither native suspend nor native IP change."""

    name = "memory"

    def __init__(self, taken: set[str] = frozenset()) -> None:
        self.licenses: dict[str, UpstreamLicense] = {}
        self.taken = set(taken)
        self.calls: list[str] = []
        self.terminate_fails = 0

    def capabilities(self) -> Capabilities:
        return Capabilities(False, False, False, True, True)

    def check_ip(self, product: ProductLike, ip: str) -> IpCheck:
        if ip in self.taken:
            return IpCheck(IpState.FOREIGN)
        lic = self.find(product, ip)
        return IpCheck(IpState.OURS, lic) if lic else IpCheck(IpState.FREE)

    def provision(self, op_id: str, product: ProductLike, ip: str) -> UpstreamLicense:
        self.calls.append(f"provision {ip}")
        check = self.check_ip(product, ip)
        if check.state is IpState.FOREIGN:
            raise IpTakenUpstream(ip)
        if check.license:
            return check.license
        lic = UpstreamLicense(
            str(len(self.licenses) + 1), ip, product.upstream_package, UpstreamStatus.ACTIVE
        )
        self.licenses[lic.reference] = lic
        return lic

    def _set(self, reference: str, status: UpstreamStatus) -> None:
        if reference in self.licenses:
            self.licenses[reference] = replace(self.licenses[reference], status=status)

    def _expire(self, op_id: str, reference: str) -> None:
        self.calls.append(f"expire {reference}")
        self._set(reference, UpstreamStatus.EXPIRED)

    def _reactivate(self, op_id: str, reference: str) -> None:
        self.calls.append(f"reactivate {reference}")
        self._set(reference, UpstreamStatus.ACTIVE)

    def renew(self, op_id: str, reference: str) -> None:
        self._reactivate(op_id, reference)

    def terminate(self, op_id: str, reference: str) -> None:
        self.calls.append(f"terminate {reference}")
        if self.terminate_fails:
            self.terminate_fails -= 1
            raise Transient("terminate: supplier busy")
        self._set(reference, UpstreamStatus.EXPIRED)

    def find(self, product: ProductLike, ip: str) -> UpstreamLicense | None:
        return next(
            (
                lic
                for lic in self.licenses.values()
                if lic.ip == ip and lic.package == product.upstream_package
            ),
            None,
        )

    def list_all(self) -> list[UpstreamLicense]:
        return list(self.licenses.values())


SOLO = Product("cpanel-solo", "P1")


def test_emulated_suspend_expires_and_resume_reactivates():
    sup = InMemorySupplier()
    lic = sup.provision("op-1", SOLO, "203.0.113.10")

    sup.suspend("op-2", lic.reference)
    assert sup.licenses[lic.reference].status is UpstreamStatus.EXPIRED
    sup.resume("op-3", lic.reference)

    assert sup.licenses[lic.reference].status is UpstreamStatus.ACTIVE
    assert sup.calls[1:] == ["expire 1", "reactivate 1"]


def test_emulated_change_ip_provisions_the_new_ip_before_terminating_the_old():
    sup = InMemorySupplier()
    old = sup.provision("op-1", SOLO, "203.0.113.10")

    new = sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "203.0.113.20")

    assert new.ip == "203.0.113.20"
    assert new.reference != old.reference
    assert sup.calls[1:] == ["provision 203.0.113.20", "terminate 1"]
    assert sup.licenses[old.reference].status is UpstreamStatus.EXPIRED


def test_emulated_change_ip_to_a_taken_ip_leaves_the_old_license_alone():
    sup = InMemorySupplier(taken={"198.51.100.7"})
    old = sup.provision("op-1", SOLO, "203.0.113.10")

    with pytest.raises(IpTakenUpstream):
        sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "198.51.100.7")

    assert sup.licenses[old.reference].status is UpstreamStatus.ACTIVE


def test_emulated_change_ip_retried_after_success_changes_nothing_more():
    sup = InMemorySupplier()
    old = sup.provision("op-1", SOLO, "203.0.113.10")
    first = sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "203.0.113.20")

    again = sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "203.0.113.20")

    assert again == first
    assert len(sup.licenses) == 2


def test_rule11_emulated_change_ip_failing_after_buying_the_new_license_is_unknown_outcome():
    sup = InMemorySupplier()
    old = sup.provision("op-1", SOLO, "203.0.113.10")
    sup.terminate_fails = 1

    # Transient would tell the caller nothing happened upstream; the new license was bought.
    with pytest.raises(UnknownOutcome):
        sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "203.0.113.20")
    again = sup.change_ip("op-2", old.reference, SOLO, "203.0.113.10", "203.0.113.20")

    assert again.ip == "203.0.113.20"
    assert len(sup.licenses) == 2
    assert sup.licenses[old.reference].status is UpstreamStatus.EXPIRED
