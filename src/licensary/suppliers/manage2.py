"""The adapter for cPanel's Manage2 partner API (and the local simulator that mimics it).

Manage2 is a set of ``<Function>.cgi`` endpoints called with GET query parameters, HTTP basic
auth and ``output=json``; every answer carries ``status`` (1 ok, 0 failure) and a free-text
``reason``. Failures come as text only, so the adapter classifies reasons by the phrases
Manage2 uses; anything it does not recognise is a plain ``Rejected`` with the reason kept.

Manage2 has expire and reactivate but no suspend, so suspend is emulated (declared in
``capabilities()``); changing the IP is native (``XMLtransfer``). Licenses bill monthly while
active, so renewing only has to make sure the license is active.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from licensary.suppliers.base import (
    Capabilities,
    IpCheck,
    IpState,
    IpTakenUpstream,
    ProductLike,
    Rejected,
    SupplierConfigLike,
    SupplierError,
    SupplierUnavailable,
    SuspendByExpiry,
    Transient,
    UnknownOutcome,
    UpstreamLicense,
    UpstreamStatus,
)

logger = logging.getLogger(__name__)

_STATUSES = {
    "1": UpstreamStatus.ACTIVE,
    "2": UpstreamStatus.EXPIRED,
    "4": UpstreamStatus.SUSPENDED,
}

# Phrases from Manage2's failure reasons, lower-cased. Checked in this order: "package not
# found" must count as the supplier being unable to sell before "not found" reads as a
# missing license.
_IP_TAKEN = ("another company", "licensed by another", "another customer")
_UNAVAILABLE = (
    "insufficient credit",
    "out of stock",
    "not enough credit",
    "account is locked",
    "account locked",
    "account has been locked",
    "account is disabled",
    "package was not found",
    "package not found",
    "invalid package",
    "not offered",
    "not authorized",
    "authentication",
    "permission denied",
    "access denied",
    "terms of service",
    "terms and conditions",
    "accept the terms",
    "agreement",
)
_ALREADY_OURS = ("in your account",)
_NO_LICENSE = ("license not found", "no license", "not found", "does not exist")
_ALREADY_EXPIRED = ("already expired", "is expired", "not active")
_ALREADY_ACTIVE = ("already active",)


def _says(reason: str, phrases: tuple[str, ...]) -> bool:
    lowered = reason.lower()
    return any(phrase in lowered for phrase in phrases)


class Manage2Supplier(SuspendByExpiry):
    """A Manage2 account reached over HTTPS; thread-safe, holds one ``httpx.Client``."""

    def __init__(
        self,
        name: str,
        base_url: str,
        username: str,
        password: str,
        timeout: float = 15.0,
        *,
        connect_timeout: float = 5.0,
        group_id: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.group_id = group_id
        self._client = httpx.Client(
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # No keep-alive: a pooled connection the server already closed fails like a
            # connection dropped mid-call, which on a mutating call would be a false
            # UnknownOutcome. Partner calls are few, so a fresh connection each is cheap.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": "licensary-manage2/1"},
            transport=transport,
        )

    @classmethod
    def from_config(cls, config: SupplierConfigLike, **options: Any) -> Manage2Supplier:
        """Build from the core's supplier record (``name, base_url, username, password``)."""
        return cls(config.name, config.base_url, config.username, config.password, **options)

    def __repr__(self) -> str:
        # The password never appears in repr, logs or error messages.
        return (
            f"Manage2Supplier(name={self.name!r}, base_url={self.base_url!r}, "
            f"username={self.username!r}, password='***')"
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Manage2Supplier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the interface ---

    def capabilities(self) -> Capabilities:
        return Capabilities(
            native_suspend=False,
            native_change_ip=True,
            native_renew=False,
            tags_op_id=True,
            terminate_is_reversible=True,
        )

    def check_ip(self, product: ProductLike, ip: str) -> IpCheck:
        ours = self.find(product, ip)
        if ours is not None:
            return IpCheck(IpState.OURS, ours)
        data = self._call(
            "XMLRawlookup", {"ip": ip, "packageid": product.upstream_package}, mutating=False
        )
        if not _ok(data):
            raise self._error("XMLRawlookup", data)
        # A license of ours on this IP under another package is not someone else's.
        if str(data.get("licensed", "0")) == "1" and data.get("owner") != "self":
            return IpCheck(IpState.FOREIGN)
        return IpCheck(IpState.FREE)

    def provision(self, op_id: str, product: ProductLike, ip: str) -> UpstreamLicense:
        # Look before adding: after an UnknownOutcome or a crash the license may already be
        # ours, and adding again would either fail or, worse, bill a second license.
        check = self.check_ip(product, ip)
        if check.state is IpState.FOREIGN:
            raise IpTakenUpstream(
                f"{ip} is licensed by another company upstream",
                supplier=self.name,
                function="XMLRawlookup",
            )
        if check.license is not None:
            return self._ensure_active(op_id, check.license)

        data = self._call(
            "XMLlicenseAdd",
            {
                "ip": ip,
                "packageid": product.upstream_package,
                "groupid": self.group_id,
                # force=1 would take the IP from whoever holds it; never.
                "force": "0",
                "dryrun": "0",
                # An expired license of ours on this IP comes back instead of a new one.
                "reactivateok": "1",
                "notes": op_id,
            },
            mutating=True,
            op_id=op_id,
        )
        if _ok(data):
            reference = str(data.get("licenseid") or "")
            if reference and reference != "0":
                return UpstreamLicense(
                    reference, ip, product.upstream_package, UpstreamStatus.ACTIVE, op_id
                )
            # Success without an id: the add happened, so find it rather than guess.
            found = self.find(product, ip)
            if found is None:
                raise UnknownOutcome(
                    "Manage2 reported success without a license id",
                    supplier=self.name,
                    function="XMLlicenseAdd",
                    op_id=op_id,
                )
            return found
        if _says(_reason(data), _ALREADY_OURS):
            # Lost a race with another attempt for the same IP: its license is ours to use.
            found = self.find(product, ip)
            if found is not None:
                return self._ensure_active(op_id, found)
        raise self._error("XMLlicenseAdd", data)

    def renew(self, op_id: str, reference: str) -> None:
        # Monthly billing while active means there is nothing to buy unless it lapsed.
        self._reactivate(op_id, reference)

    def terminate(self, op_id: str, reference: str) -> None:
        self._expire(op_id, reference)

    def change_ip(
        self, op_id: str, reference: str, product: ProductLike, old_ip: str, new_ip: str
    ) -> UpstreamLicense:
        # A retry after an UnknownOutcome finds the license already moved.
        moved = self.find(product, new_ip)
        if moved is not None:
            if moved.reference == reference:
                return moved
            raise Rejected(
                f"{new_ip} already has another license of ours (licenseid {moved.reference})",
                supplier=self.name,
                function="XMLtransfer",
            )
        data = self._call(
            "XMLtransfer",
            {"oldip": old_ip, "newip": new_ip, "packageid": product.upstream_package},
            mutating=True,
            op_id=op_id,
        )
        if not _ok(data):
            raise self._error("XMLtransfer", data)
        answered = UpstreamLicense(
            str(data.get("licenseid") or reference),
            new_ip,
            product.upstream_package,
            UpstreamStatus.ACTIVE,
        )
        try:
            found = self.find(product, new_ip)
        except SupplierError as exc:
            # Manage2 said the transfer is done; a lookup failing after it cannot undo that,
            # and raising its Transient would tell the caller nothing happened upstream.
            logger.warning(
                "manage2 %s: moved %s to %s; the lookup after it failed: %s",
                self.name,
                reference,
                new_ip,
                exc,
            )
            return answered
        return found if found is not None else answered

    def find(self, product: ProductLike, ip: str) -> UpstreamLicense | None:
        data = self._call(
            "XMLlookup", {"ip": ip, "packageid": product.upstream_package}, mutating=False
        )
        if not _ok(data):
            if _says(_reason(data), _NO_LICENSE) and not _says(_reason(data), _UNAVAILABLE):
                return None
            raise self._error("XMLlookup", data)
        reference = str(data.get("licenseid") or "0")
        if reference == "0":
            return None
        details = data.get("license")
        if isinstance(details, Mapping):
            return self._parse(details)
        # Manage2 proper answers the id only; the listing has the details.
        return next((lic for lic in self.list_all() if lic.reference == reference), None)

    def list_all(self) -> list[UpstreamLicense]:
        seen: dict[str, UpstreamLicense] = {}
        # Manage2 lists either the expired licenses or the others, never both at once.
        for expired in ("0", "1"):
            data = self._call("XMLlicenseInfo", {"expired": expired}, mutating=False)
            if not _ok(data):
                raise self._error("XMLlicenseInfo", data)
            licenses = data.get("licenses") or {}
            rows = licenses.values() if isinstance(licenses, Mapping) else licenses
            for row in rows:
                if isinstance(row, Mapping):
                    lic = self._parse(row)
                    seen[lic.reference] = lic
        return list(seen.values())

    # --- emulation hooks (SuspendByExpiry) ---

    def _expire(self, op_id: str, reference: str) -> None:
        data = self._call(
            "XMLlicenseExpire",
            # The reason is shown on the vendor's record: the one place expire can carry
            # our op_id.
            {"liscid": reference, "reason": f"Licensary operation {op_id}", "expcode": "normal"},
            mutating=True,
            op_id=op_id,
        )
        if _ok(data):
            return
        reason = _reason(data)
        # Already gone is the outcome we wanted; repeating must succeed.
        if _says(reason, _ALREADY_EXPIRED) or (
            _says(reason, _NO_LICENSE) and not _says(reason, _UNAVAILABLE)
        ):
            logger.info("manage2 %s: expire %s already done (%s)", self.name, reference, reason)
            return
        raise self._error("XMLlicenseExpire", data)

    def _reactivate(self, op_id: str, reference: str) -> None:
        data = self._call(
            "XMLlicenseReActivate",
            {"liscid": reference, "dryrun": "0"},
            mutating=True,
            op_id=op_id,
        )
        if _ok(data) or _says(_reason(data), _ALREADY_ACTIVE):
            return
        raise self._error("XMLlicenseReActivate", data)

    # --- plumbing ---

    def _ensure_active(self, op_id: str, lic: UpstreamLicense) -> UpstreamLicense:
        if lic.status is UpstreamStatus.ACTIVE:
            return lic
        self._reactivate(op_id, lic.reference)
        return dataclasses.replace(lic, status=UpstreamStatus.ACTIVE)

    def _parse(self, row: Mapping[str, Any]) -> UpstreamLicense:
        try:
            reference = str(row["licenseid"])
            ip = str(row["ip"])
        except KeyError as exc:
            raise Transient(
                f"Manage2 license record lacks {exc.args[0]}", supplier=self.name
            ) from exc
        # Any other status (pending, unknown) is treated as not active, so the next provision
        # or renew tries to reactivate rather than trusting it.
        status = _STATUSES.get(str(row.get("status", "")), UpstreamStatus.EXPIRED)
        return UpstreamLicense(
            reference=reference,
            ip=ip,
            package=str(row.get("packageid") or ""),
            status=status,
            note=str(row.get("external_notes") or ""),
        )

    def _call(
        self, function: str, params: Mapping[str, str], *, mutating: bool, op_id: str = ""
    ) -> dict[str, Any]:
        """One Manage2 call; transport and HTTP failures become supplier errors here."""
        url = f"{self.base_url}/{function}.cgi"
        query = {"output": "json", **params}

        def unknown_or_transient(reason: str) -> SupplierError:
            # A mutating call that may have reached Manage2 can have acted; a read cannot.
            if mutating:
                return UnknownOutcome(reason, supplier=self.name, function=function, op_id=op_id)
            return Transient(reason, supplier=self.name, function=function)

        logger.debug("manage2 %s: %s %s", self.name, function, _loggable(query))
        try:
            response = self._client.get(url, params=query)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Failed before the request left: nothing can have happened upstream.
            raise Transient(
                f"cannot connect: {type(exc).__name__}", supplier=self.name, function=function
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise SupplierUnavailable(
                f"bad base URL: {exc}", supplier=self.name, function=function
            ) from exc
        except httpx.TimeoutException as exc:
            # Read or write timeout: the request may be executing right now.
            raise unknown_or_transient(f"timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            # Connection reset or closed after sending, before any answer.
            raise unknown_or_transient(f"connection lost: {type(exc).__name__}") from exc

        code = response.status_code
        if code in (401, 403):
            raise SupplierUnavailable(
                f"credentials refused (HTTP {code})", supplier=self.name, function=function
            )
        if code == 404:
            # Manage2 has every function; a 404 means the base URL points somewhere else.
            raise SupplierUnavailable(
                "function not found (HTTP 404): check the base URL",
                supplier=self.name,
                function=function,
            )
        if code in (408, 425, 429):
            raise Transient(
                f"asked to retry later (HTTP {code})", supplier=self.name, function=function
            )
        if code == 504:
            # A gateway gave up waiting for Manage2, which may still have acted.
            raise unknown_or_transient("gateway timeout (HTTP 504)")
        if code >= 500:
            raise Transient(f"server error (HTTP {code})", supplier=self.name, function=function)
        if code != 200:
            raise Rejected(
                f"unexpected HTTP {code}: {response.text[:200]}",
                supplier=self.name,
                function=function,
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise unknown_or_transient("answer is not JSON") from exc
        if not isinstance(data, dict) or "status" not in data:
            raise unknown_or_transient("answer lacks a status")
        logger.debug(
            "manage2 %s: %s -> status=%s reason=%r",
            self.name,
            function,
            data.get("status"),
            data.get("reason"),
        )
        return data

    def _error(self, function: str, data: Mapping[str, Any]) -> SupplierError:
        """The error class a Manage2 failure reason stands for."""
        reason = _reason(data) or "Manage2 refused without a reason"
        if _says(reason, _IP_TAKEN):
            return IpTakenUpstream(reason, supplier=self.name, function=function)
        if _says(reason, _UNAVAILABLE):
            return SupplierUnavailable(reason, supplier=self.name, function=function)
        return Rejected(reason, supplier=self.name, function=function)


def _ok(data: Mapping[str, Any]) -> bool:
    # Manage2 sends status as a number or a string depending on the function.
    return str(data.get("status")) == "1"


def _reason(data: Mapping[str, Any]) -> str:
    return str(data.get("reason") or "")


def _loggable(query: Mapping[str, str]) -> dict[str, str]:
    # Credentials travel in the Authorization header, never in the query; this only keeps
    # log lines short.
    return {key: value for key, value in query.items() if key != "output"}
