"""Fixtures for the supplier tests: a Manage2 simulator on an ephemeral port, over real HTTP.

No database: suppliers are plain Python, so these tests never touch Django.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from licensary.suppliers.manage2 import Manage2Supplier
from licensary.suppliers.simulator import Manage2Simulator, make_server

# The simulator's slow fault sleeps this long; the client below gives up well before.
SLOW_SECONDS = 1.5
CLIENT_TIMEOUT = 0.5


@dataclass(frozen=True)
class Product:
    slug: str
    upstream_package: str


class Control:
    """The simulator's /_control endpoints, as tests use them."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=5.0)

    def fault(self, fault: str, count: int = 1, **extra: Any) -> None:
        response = self.http.post(
            "/_control/faults", json={"fault": fault, "count": count, **extra}
        )
        assert response.status_code == 200, response.text

    def licenses(self) -> list[dict[str, Any]]:
        response = self.http.get("/_control/licenses")
        assert response.status_code == 200
        return response.json()["items"]

    def foreign(self, ip: str, packageid: str | None = None) -> None:
        response = self.http.post("/_control/foreign", json={"ip": ip, "packageid": packageid})
        assert response.status_code == 200, response.text

    def expire(self, licenseid: str) -> None:
        response = self.http.post("/_control/expire", json={"licenseid": licenseid})
        assert response.status_code == 200, response.text


@pytest.fixture
def simulator() -> Iterator[Manage2Simulator]:
    server = make_server("127.0.0.1", 0, slow_seconds=SLOW_SECONDS)
    # A short poll interval keeps shutdown (once per test) from costing half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def control(simulator: Manage2Simulator) -> Iterator[Control]:
    ctl = Control(simulator.url)
    yield ctl
    ctl.http.close()


@pytest.fixture
def supplier(simulator: Manage2Simulator) -> Iterator[Manage2Supplier]:
    with Manage2Supplier(
        "sim", simulator.url, "sim", "sim", timeout=CLIENT_TIMEOUT, connect_timeout=2.0
    ) as sup:
        yield sup


@pytest.fixture
def solo() -> Product:
    return Product(slug="cpanel-solo", upstream_package="P1")


@pytest.fixture
def admin() -> Product:
    return Product(slug="cpanel-admin", upstream_package="P2")


@pytest.fixture
def unoffered() -> Product:
    """A product whose package this supplier does not sell."""
    return Product(slug="whm-nope", upstream_package="NOPE")
