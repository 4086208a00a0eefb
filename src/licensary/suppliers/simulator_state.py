"""The Manage2 simulator's own state: licenses, other companies' IPs, queued faults.

Kept apart from the HTTP side (`simulator.py`) so each file holds one idea.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_PACKAGES: dict[str, str] = {"P1": "cPanel Solo", "P2": "cPanel Admin"}
DEFAULT_PORT = 8765

ACTIVE, EXPIRED, SUSPENDED = 1, 2, 4

# Reasons worded after Manage2's own, so the adapter's classification is exercised on
# realistic text rather than on codes the real API does not send.
REASON_OK = "OK"
REASON_AUTH = "Authentication failed: invalid username or password"
REASON_FOREIGN = "This IP address is already licensed by another company"
REASON_OUT_OF_STOCK = "Insufficient credit: your account is out of stock for this package"
REASON_LOCKED = "Your Manage2 account is locked; contact your account manager"
REASON_NO_PACKAGE = "The package was not found or is not offered to your account"
REASON_NO_LICENSE = "License not found"
REASON_BAD_IP = "Invalid IP address"

MUTATING = frozenset({"XMLlicenseAdd", "XMLlicenseExpire", "XMLlicenseReActivate", "XMLtransfer"})
FUNCTIONS = MUTATING | {"XMLlookup", "XMLRawlookup", "XMLlicenseInfo", "XMLpackageInfo"}

# Where each fault can really occur: an IP is only "taken" where an IP is claimed or asked
# about, stock only matters where credit is spent, and only a mutating call can act before
# its answer is lost. Scoping this way lets a test aim a fault at a provisioning attempt
# without the preliminary lookups swallowing it.
FAULT_SCOPES: dict[str, frozenset[str]] = {
    "ip_taken": frozenset({"XMLRawlookup", "XMLlicenseAdd", "XMLlicenseReActivate", "XMLtransfer"}),
    "out_of_stock": frozenset({"XMLlicenseAdd", "XMLlicenseReActivate"}),
    "account_locked": FUNCTIONS,
    "http_500": FUNCTIONS,
    "slow": FUNCTIONS,
    "drop_after_act": MUTATING,
}


class _Drop(Exception):
    """Raised inside a handler to close the socket without answering."""


@dataclass
class SimLicense:
    licenseid: str
    ip: str
    packageid: str
    status: int
    external_notes: str = ""
    groupid: str = ""
    adddate: int = 0
    expirereason: str = ""

    def as_manage2(self, package_name: str) -> dict[str, Any]:
        # Manage2 sends every attribute as a string.
        data = {key: str(value) for key, value in asdict(self).items()}
        data["package_name"] = package_name
        return data

    def as_control(self) -> dict[str, Any]:
        return {
            "licenseid": self.licenseid,
            "ip": self.ip,
            "packageid": self.packageid,
            "status": self.status,
            "external_notes": self.external_notes,
        }


@dataclass
class Fault:
    fault: str
    count: int
    ip: str | None = None
    function: str | None = None
    seconds: float | None = None
    # Matching calls let through before the fault applies: aims it at the second lookup of
    # a call that looks up, acts, and looks up again.
    skip: int = 0

    def matches(self, function: str, ips: Iterable[str]) -> bool:
        if function not in FAULT_SCOPES[self.fault]:
            return False
        if self.function is not None and self.function != function:
            return False
        return self.ip is None or self.ip in ips


@dataclass
class SimulatorState:
    """The upstream world: our licenses, other companies' IPs, pending faults.

    Every method takes the one lock, so concurrent provisioning races behave as on a real
    server that serialises writes per account.
    """

    packages: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PACKAGES))
    # ip -> package ids held by other companies; None means every package.
    foreign: dict[str, set[str | None]] = field(default_factory=dict)
    licenses: dict[str, SimLicense] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    next_id: int = 1001
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # --- control ---

    def reset(self) -> None:
        with self.lock:
            self.foreign.clear()
            self.licenses.clear()
            self.faults.clear()

    def add_foreign(self, ip: str, packageid: str | None = None) -> None:
        with self.lock:
            self.foreign.setdefault(ip, set()).add(packageid)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, function: str, ips: Iterable[str]) -> Fault | None:
        """Consume one use of the first pending fault that matches this call."""
        ips = set(ips)
        with self.lock:
            for fault in self.faults:
                if fault.matches(function, ips):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def force_status(self, licenseid: str, status: int) -> SimLicense | None:
        with self.lock:
            lic = self.licenses.get(licenseid)
            if lic is not None:
                lic.status = status
            return lic

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [lic.as_control() for lic in self.licenses.values()]

    # --- queries ---

    def is_foreign(self, ip: str, packageid: str | None) -> bool:
        with self.lock:
            held = self.foreign.get(ip, set())
            return None in held or packageid in held or (packageid is None and bool(held))

    def ours(self, ip: str, packageid: str) -> SimLicense | None:
        """Our license on ip for the package, preferring a live one over an expired one."""
        with self.lock:
            found = [
                lic for lic in self.licenses.values() if lic.ip == ip and lic.packageid == packageid
            ]
            found.sort(key=lambda lic: (lic.status != ACTIVE, lic.status != SUSPENDED))
            return found[0] if found else None

    # --- Manage2 functions; each returns (status, reason, payload) ---

    def add(
        self, ip: str, packageid: str, groupid: str, notes: str, reactivate_ok: bool
    ) -> tuple[int, str, dict[str, Any]]:
        with self.lock:
            if packageid not in self.packages:
                return 0, REASON_NO_PACKAGE, {}
            if self.is_foreign(ip, packageid):
                return 0, REASON_FOREIGN, {}
            existing = self.ours(ip, packageid)
            if existing is not None and existing.status == EXPIRED:
                if not reactivate_ok:
                    return (
                        0,
                        "This IP address has an expired license in your account "
                        f"(licenseid {existing.licenseid}); pass reactivateok=1",
                        {"licenseid": existing.licenseid},
                    )
                existing.status = ACTIVE
                existing.expirereason = ""
                return 1, REASON_OK, {"licenseid": existing.licenseid, "ip": ip}
            if existing is not None:
                return (
                    0,
                    "This IP address already has a license for this package in your "
                    f"account (licenseid {existing.licenseid})",
                    {"licenseid": existing.licenseid},
                )
            lic = SimLicense(
                licenseid=str(self.next_id),
                ip=ip,
                packageid=packageid,
                status=ACTIVE,
                external_notes=notes,
                groupid=groupid,
                adddate=int(time.time()),
            )
            self.next_id += 1
            self.licenses[lic.licenseid] = lic
            return 1, REASON_OK, {"licenseid": lic.licenseid, "ip": ip}

    def expire(self, licenseid: str, reason: str) -> tuple[int, str, dict[str, Any]]:
        with self.lock:
            lic = self.licenses.get(licenseid)
            if lic is None:
                return 0, REASON_NO_LICENSE, {}
            if lic.status == EXPIRED:
                return 0, "License is already expired", {}
            lic.status = EXPIRED
            lic.expirereason = reason
            return 1, REASON_OK, {"licenseid": licenseid}

    def reactivate(self, licenseid: str) -> tuple[int, str, dict[str, Any]]:
        with self.lock:
            lic = self.licenses.get(licenseid)
            if lic is None:
                return 0, REASON_NO_LICENSE, {}
            if lic.status == ACTIVE:
                return 0, "License is already active", {"licenseid": licenseid}
            if lic.status == SUSPENDED:
                return 0, "License is suspended by cPanel; contact cPanel support", {}
            # Someone else may have licensed the IP while ours was expired.
            if self.is_foreign(lic.ip, lic.packageid):
                return 0, REASON_FOREIGN, {}
            lic.status = ACTIVE
            lic.expirereason = ""
            return 1, REASON_OK, {"licenseid": licenseid}

    def transfer(self, oldip: str, newip: str, packageid: str) -> tuple[int, str, dict[str, Any]]:
        with self.lock:
            if packageid not in self.packages:
                return 0, REASON_NO_PACKAGE, {}
            lic = self.ours(oldip, packageid)
            if lic is None:
                return 0, f"No license found on {oldip} for this package in your account", {}
            if self.is_foreign(newip, packageid):
                return 0, REASON_FOREIGN, {}
            taken = self.ours(newip, packageid)
            if taken is not None:
                return (
                    0,
                    "This IP address already has a license for this package in your "
                    f"account (licenseid {taken.licenseid})",
                    {},
                )
            lic.ip = newip
            return 1, REASON_OK, {"licenseid": lic.licenseid, "ip": newip}

    def lookup(self, ip: str, packageid: str) -> dict[str, Any]:
        with self.lock:
            lic = self.ours(ip, packageid)
            if lic is None:
                return {"licenseid": "0"}
            return {
                "licenseid": lic.licenseid,
                "license": lic.as_manage2(self.packages.get(packageid, "")),
            }

    def raw_lookup(self, ip: str, packageid: str | None) -> dict[str, Any]:
        # Raw lookup tells whether an IP is licensed anywhere, without details of a license
        # held by another company.
        with self.lock:
            if self.is_foreign(ip, packageid):
                return {"ip": ip, "licensed": "1", "owner": "other"}
            mine = (
                self.ours(ip, packageid)
                if packageid
                else next((lic for lic in self.licenses.values() if lic.ip == ip), None)
            )
            if mine is not None:
                return {"ip": ip, "licensed": "1", "owner": "self", "licenseid": mine.licenseid}
            return {"ip": ip, "licensed": "0", "owner": ""}

    def license_info(self, expired: bool) -> dict[str, Any]:
        # Like Manage2, expired=1 lists only expired licenses and the default only the others.
        with self.lock:
            return {
                "licenses": {
                    f"L{lic.licenseid}": lic.as_manage2(self.packages.get(lic.packageid, ""))
                    for lic in self.licenses.values()
                    if (lic.status == EXPIRED) == expired
                }
            }

    def package_info(self) -> dict[str, Any]:
        with self.lock:
            return {
                "packages": {
                    pid: {"packageid": pid, "name": name} for pid, name in self.packages.items()
                }
            }


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
