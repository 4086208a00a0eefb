"""Two simulated Manage2 suppliers (north, south) over real HTTP, configured as supplier
accounts, and cPanel Solo sold through them: the fixtures of the orders and licenses tests of
manufacturer products (their conftests import them), with `paid_order`."""

import threading
from collections.abc import Iterator

import pytest

from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.orders.models import Order
from licensary.orders.services import order_create
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.simulator import make_server
from tests.helpers import PUBLIC_IP, give_credit
from tests.suppliers.conftest import Control


def _start():
    server = make_server("127.0.0.1", 0, slow_seconds=1.5)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def simulators() -> Iterator[dict[str, object]]:
    servers = {"north": _start(), "south": _start()}
    yield {name: server for name, (server, _) in servers.items()}
    for server, thread in servers.values():
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def north(simulators) -> Iterator[Control]:
    ctl = Control(simulators["north"].url)
    yield ctl
    ctl.http.close()


@pytest.fixture
def south(simulators) -> Iterator[Control]:
    ctl = Control(simulators["south"].url)
    yield ctl
    ctl.http.close()


@pytest.fixture
def cpanel(staff, simulators):
    for name, server in simulators.items():
        account = SupplierAccount(
            name=name, base_url=server.url, username="sim", timeout_seconds=0.8
        )
        account.set_password("sim")
        account.save()
    return product_create(
        actor=staff,
        slug="cpanel-solo",
        name="cPanel Solo",
        kind="manufacturer",
        manufacturer="cPanel",
        price=2000,
        setup_fee=0,
        suppliers=["north", "south"],
        upstream_package="P1",
    )


def paid_order(account, product: Product, staff, ip: str = PUBLIC_IP) -> Order:
    """An order of `account` for `product` on `ip`, paid with credit staff gave it."""
    give_credit(account, product.price, staff)
    order = order_create(actor=account, product=product, ip=ip)
    invoice_pay_with_credit(invoice=order.invoice, actor=account)
    return order
