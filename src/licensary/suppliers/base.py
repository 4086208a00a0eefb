"""The supplier interface: how Licensary obtains manufacturer licenses from a partner API.

Plain Python on purpose (no Django imports): the core wires a supplier to its models, and the
adapters stay testable against a simulator over real HTTP.

Every mutating operation takes Licensary's own ``op_id``. Suppliers tag it on the vendor's
record where their protocol allows, so that a license found after an ``UnknownOutcome`` can be
matched to the operation that made it.

The errors are a contract with the caller, each naming what the caller must do next:

- ``IpTakenUpstream``: the manufacturer says someone else holds the IP. Hold the order for
  review; never fail over, since every supplier of that manufacturer would say the same.
- ``SupplierUnavailable``: this supplier cannot deliver now (no credit, account locked,
  product not offered, bad credentials). Fail over to the next supplier and alert staff.
- ``Transient``: nothing happened upstream (timeouts before acting, 5xx, refused connections).
  Retry the same operation with backoff.
- ``UnknownOutcome``: the call may have acted. Look the license up by product and IP before
  doing anything else; retrying blindly could buy a second license.
- ``Rejected``: a permanent refusal with the supplier's reason; retrying will not help.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol


class ProductLike(Protocol):
    """What a supplier needs to know about a product (the core passes its Product model)."""

    slug: str
    upstream_package: str


class SupplierConfigLike(Protocol):
    """What a supplier needs to connect (the core passes its Supplier model); read only, so a
    computed value (the model's unsealed `password`) qualifies."""

    @property
    def name(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...


# --- errors ------------------------------------------------------------------------------------


class SupplierError(Exception):
    """Base of every supplier failure; ``reason`` is the supplier's own words when it gave any."""

    def __init__(self, reason: str, *, supplier: str = "", function: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.supplier = supplier
        self.function = function

    def __str__(self) -> str:
        where = ":".join(part for part in (self.supplier, self.function) if part)
        return f"[{where}] {self.reason}" if where else self.reason


class IpTakenUpstream(SupplierError):
    """The IP is licensed manufacturer-wide by someone else: hold the order, never fail over."""


class SupplierUnavailable(SupplierError):
    """This supplier cannot deliver (credit, lock, product, credentials): fail over and alert."""


class Transient(SupplierError):
    """Nothing was done upstream and a later attempt may work: retry with backoff."""


class UnknownOutcome(SupplierError):
    """The call may have acted: look up by product and IP before anything else."""

    def __init__(
        self, reason: str, *, supplier: str = "", function: str = "", op_id: str = ""
    ) -> None:
        super().__init__(reason, supplier=supplier, function=function)
        self.op_id = op_id


class Rejected(SupplierError):
    """A permanent refusal; ``reason`` carries the supplier's explanation."""


# --- values ------------------------------------------------------------------------------------


class UpstreamStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class UpstreamLicense:
    """One license as the supplier sees it."""

    reference: str
    ip: str
    package: str
    status: UpstreamStatus
    # The op_id tagged on the vendor record when it was made ("" when the vendor keeps none).
    note: str = ""


class IpState(enum.StrEnum):
    FREE = "free"
    OURS = "ours"
    FOREIGN = "foreign"


@dataclass(frozen=True, slots=True)
class IpCheck:
    """Who holds a product's IP upstream; ``license`` is set only when it is ours."""

    state: IpState
    license: UpstreamLicense | None = None

    @property
    def reference(self) -> str | None:
        return self.license.reference if self.license else None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the supplier's protocol does natively; the rest is emulated and declared here.

    The core reads this to explain upstream state (e.g. a suspended license showing as
    expired upstream is expected when ``native_suspend`` is false).
    """

    native_suspend: bool
    native_change_ip: bool
    # False when licenses bill periodically while active, so renewing only has to make sure
    # the license is active again.
    native_renew: bool
    # Whether the op_id is visible on the vendor's record (UpstreamLicense.note).
    tags_op_id: bool
    # Whether terminate can be undone by resume/renew (expire) or is final (delete).
    terminate_is_reversible: bool


# --- the interface -----------------------------------------------------------------------------


class Supplier(ABC):
    """A partner API that sells one manufacturer's licenses.

    Contract for implementations: every mutating operation is idempotent for the same
    arguments (repeating it after success succeeds without a second effect), and raises only
    ``SupplierError`` subclasses.
    """

    name: str

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def check_ip(self, product: ProductLike, ip: str) -> IpCheck: ...

    @abstractmethod
    def provision(self, op_id: str, product: ProductLike, ip: str) -> UpstreamLicense:
        """Make sure an active license for ``product`` on ``ip`` exists and return it."""

    @abstractmethod
    def renew(self, op_id: str, reference: str) -> None: ...

    @abstractmethod
    def suspend(self, op_id: str, reference: str) -> None: ...

    @abstractmethod
    def resume(self, op_id: str, reference: str) -> None: ...

    @abstractmethod
    def terminate(self, op_id: str, reference: str) -> None:
        """End the license; an unknown or already-ended license is success."""

    @abstractmethod
    def change_ip(
        self, op_id: str, reference: str, product: ProductLike, old_ip: str, new_ip: str
    ) -> UpstreamLicense:
        """Move the license to ``new_ip``; the returned reference may differ when emulated."""

    @abstractmethod
    def find(self, product: ProductLike, ip: str) -> UpstreamLicense | None:
        """Our license for ``product`` on ``ip``, in whatever status, or None."""

    @abstractmethod
    def list_all(self) -> list[UpstreamLicense]:
        """Every license in our account, for reconciliation."""


# --- emulation helpers -------------------------------------------------------------------------


class SuspendByExpiry(Supplier):
    """For protocols without a suspend: suspend expires the license, resume reactivates it.

    Implementations declare ``native_suspend=False`` and provide ``_expire`` and
    ``_reactivate``, both idempotent.
    """

    @abstractmethod
    def _expire(self, op_id: str, reference: str) -> None: ...

    @abstractmethod
    def _reactivate(self, op_id: str, reference: str) -> None: ...

    def suspend(self, op_id: str, reference: str) -> None:
        self._expire(op_id, reference)

    def resume(self, op_id: str, reference: str) -> None:
        self._reactivate(op_id, reference)


class ChangeIpByReprovision(Supplier):
    """For protocols without an IP change: provision on the new IP, then terminate the old.

    Implementations declare ``native_change_ip=False``. The new license is bought first so the
    customer is never left without one, and an ``IpTakenUpstream`` on the new IP leaves the old
    license untouched. Both halves are idempotent, so the whole is safe to retry. Once the new
    license is bought, a failing terminate is an ``UnknownOutcome``: something did happen.
    """

    def change_ip(
        self, op_id: str, reference: str, product: ProductLike, old_ip: str, new_ip: str
    ) -> UpstreamLicense:
        new = self.provision(op_id, product, new_ip)
        if new.reference != reference:
            try:
                self.terminate(op_id, reference)
            except SupplierError as exc:
                raise UnknownOutcome(
                    f"bought {new.reference} on {new_ip}, but ending {reference} failed: "
                    f"{exc.reason}",
                    supplier=exc.supplier or self.name,
                    function=exc.function,
                    op_id=op_id,
                ) from exc
        return new
