"""Orders and billing's invoices: what a paid order invoice sets in motion, and what rule 7
reads about what it bought. Registered with billing for the `license` and `setup_fee` lines
in `OrdersConfig.ready`."""

from datetime import datetime

from licensary.accounts.models import User
from licensary.billing.models import Invoice
from licensary.licenses.invoicing import license_refund_facts, product_refund_terms
from licensary.orders.delivery import order_on_paid
from licensary.orders.models import Order


class OrderLines:
    """A paid order invoice (its license line and setup fee together) queues the delivery."""

    def on_paid(
        self, *, invoice: Invoice, paid_at: datetime, actor: User | None, check_only: bool
    ) -> None:
        if not check_only:
            order_on_paid(order=Order.objects.get(invoice=invoice), actor=actor)

    def refund_facts(self, invoice: Invoice) -> dict[str, object]:
        order = Order.objects.select_related("license", "product").get(invoice=invoice)
        lic = order.license
        facts: dict[str, object] = {
            "order_rejected": order.status == Order.Status.REJECTED,
            "delivered": lic is not None,
            "product_kind": order.product.kind,
            **product_refund_terms(order.product),
        }
        if lic is not None:
            facts |= license_refund_facts(invoice, lic)
        return facts
