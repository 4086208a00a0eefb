"""The `own` supplier: our own license system, behind the same interface as a vendor's.

Our registry is the License table itself, so the lifecycle calls have nothing further to do
(blocking a license *is* suspending it here) and an own license is only ever created by a
paid order, which knows the account; `provision` returns the license an order issued.

Licenses registers it with the supplier registry (`LicensesConfig.ready`): suppliers never
import licenses.
"""

from licensary.licenses.models import License
from licensary.suppliers.base import (
    Capabilities,
    IpCheck,
    IpState,
    ProductLike,
    Rejected,
    Supplier,
    UpstreamLicense,
    UpstreamStatus,
)

STATUS = {
    "active": UpstreamStatus.ACTIVE,
    "blocked": UpstreamStatus.SUSPENDED,
    "canceled": UpstreamStatus.SUSPENDED,
    "deleted": UpstreamStatus.EXPIRED,
}


def _upstream(lic: License) -> UpstreamLicense:
    return UpstreamLicense(
        reference=str(lic.pk), ip=lic.ip, package=lic.product.slug, status=STATUS[lic.status]
    )


class OwnSupplier(Supplier):
    name = "own"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            native_suspend=True,
            native_change_ip=True,
            native_renew=True,
            tags_op_id=False,
            terminate_is_reversible=False,
        )

    def _live(self, product: ProductLike, ip: str) -> License | None:
        return (
            License.objects.select_related("product")
            .filter(product__slug=product.slug, ip=ip)
            .exclude(status=License.Status.DELETED)
            .first()
        )

    def check_ip(self, product: ProductLike, ip: str) -> IpCheck:
        lic = self._live(product, ip)
        return IpCheck(IpState.OURS, _upstream(lic)) if lic else IpCheck(IpState.FREE)

    def provision(self, op_id: str, product: ProductLike, ip: str) -> UpstreamLicense:
        lic = self._live(product, ip)
        if lic is None:
            raise Rejected(
                "own licenses are issued by paid orders", supplier=self.name, function="provision"
            )
        return _upstream(lic)

    def renew(self, op_id: str, reference: str) -> None:
        """The license row is the registry: renewing it was the change itself."""

    def suspend(self, op_id: str, reference: str) -> None:
        """Blocking the license row is the suspension."""

    def resume(self, op_id: str, reference: str) -> None:
        """Renewing the license row is the resumption."""

    def terminate(self, op_id: str, reference: str) -> None:
        """Deleting the license row (the lifecycle) is the termination."""

    def change_ip(
        self, op_id: str, reference: str, product: ProductLike, old_ip: str, new_ip: str
    ) -> UpstreamLicense:
        lic = License.objects.select_related("product").filter(pk=int(reference)).first()
        if lic is None or lic.ip != new_ip:
            raise Rejected(
                "change the IP through the license (license_change_ip)",
                supplier=self.name,
                function="change_ip",
            )
        return _upstream(lic)

    def find(self, product: ProductLike, ip: str) -> UpstreamLicense | None:
        lic = self._live(product, ip)
        return _upstream(lic) if lic else None

    def list_all(self) -> list[UpstreamLicense]:
        return [
            _upstream(lic)
            for lic in License.objects.select_related("product")
            .filter(kind=License.Kind.OWN)
            .exclude(status=License.Status.DELETED)
        ]
