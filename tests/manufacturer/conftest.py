"""Manufacturer products delivered through two simulated Manage2 suppliers over real HTTP."""

import threading
from collections.abc import Iterator

import pytest

from licensary.catalog.services import product_create
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.simulator import make_server
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
