"""What a paid invoice sets in motion, by what it was for."""

from datetime import datetime

from licensary.accounts.models import User
from licensary.billing.models import Invoice


def invoice_on_paid(
    *, invoice: Invoice, paid_at: datetime, actor: User | None, check_only: bool
) -> None:
    """Deliver what `invoice` paid for, in the payment's transaction.

    With `check_only`, only refuse (raise) when it can no longer be delivered, so that no money
    is taken for it.
    """
    from licensary.licenses.lifecycle import license_renew_paid
    from licensary.orders.services import order_on_paid

    if invoice.purpose == Invoice.Purpose.ORDER:
        if not check_only:
            order_on_paid(order=invoice.order, actor=actor)
    elif invoice.purpose == Invoice.Purpose.RENEWAL:
        for line in invoice.lines.filter(kind="renewal").select_related("license"):
            license_renew_paid(
                license=line.license, line=line, paid_at=paid_at, actor=actor, check_only=check_only
            )
