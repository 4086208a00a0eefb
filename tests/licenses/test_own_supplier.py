"""The `own` supplier answers the supplier interface from our own registry."""

from licensary.billing.services import invoice_pay_with_credit
from licensary.orders.services import order_create
from licensary.suppliers.base import IpState, Rejected, UpstreamStatus
from licensary.suppliers.registry import supplier_adapter
from tests.helpers import OTHER_IP, PUBLIC_IP, give_credit, run_jobs


def test_own_supplier_reports_our_licenses(alice, product, staff):
    own = supplier_adapter("own")
    assert own.check_ip(product, PUBLIC_IP).state is IpState.FREE
    try:
        own.provision("op-1", product, PUBLIC_IP)
        raise AssertionError("an own license needs a paid order")
    except Rejected:
        pass
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()

    check = own.check_ip(product, PUBLIC_IP)
    assert (check.state, check.license.status) == (IpState.OURS, UpstreamStatus.ACTIVE)
    assert own.provision("op-2", product, PUBLIC_IP).reference == check.reference
    assert own.find(product, OTHER_IP) is None
    assert [u.ip for u in own.list_all()] == [PUBLIC_IP]
    own.suspend("op-3", check.reference)  # the lifecycle is the registry: nothing to do
