"""`licensary simulate-supplier`: the credentials and packages a demo configures against."""

from __future__ import annotations

import io
import threading

import httpx
import pytest
from django.core.management import CommandError, call_command

from licensary.suppliers.simulator import Manage2Simulator, make_server


@pytest.fixture
def started(monkeypatch) -> list[Manage2Simulator]:
    """The servers the command built, bound but not serving (serving would block the test)."""
    servers: list[Manage2Simulator] = []

    def serve_once(self: Manage2Simulator, poll_interval: float = 0.5) -> None:
        servers.append(self)

    monkeypatch.setattr(Manage2Simulator, "serve_forever", serve_once)
    return servers


def test_simulate_supplier_takes_credentials_and_packages_and_prints_them(started):
    out = io.StringIO()

    call_command(
        "simulate-supplier",
        "--port",
        "0",
        "--username",
        "reseller",
        "--password",
        "s3cret",
        "--package",
        "P7=cPanel Pro",
        "--package",
        "P9=WHM Cloud",
        stdout=out,
    )

    printed = out.getvalue()
    server = started[0]
    assert f"Manage2 simulator on {server.url}/" in printed
    assert "username reseller, password s3cret" in printed
    assert "P7 = cPanel Pro" in printed and "P9 = WHM Cloud" in printed
    assert server.credentials == ("reseller", "s3cret")
    assert server.state.packages == {"P7": "cPanel Pro", "P9": "WHM Cloud"}


def test_simulate_supplier_defaults_to_sim_and_the_two_cpanel_packages(started):
    out = io.StringIO()

    call_command("simulate-supplier", "--port", "0", stdout=out)

    printed = out.getvalue()
    assert "username sim, password sim" in printed
    assert "P1 = cPanel Solo" in printed and "P2 = cPanel Admin" in printed


def test_simulate_supplier_refuses_a_package_without_a_name(started):
    with pytest.raises(CommandError, match="ID=NAME"):
        call_command("simulate-supplier", "--port", "0", "--package", "P7")
    assert started == []


def test_simulator_serves_with_the_configured_credentials_and_packages():
    server = make_server(
        "127.0.0.1", 0, username="reseller", password="s3cret", packages={"P7": "cPanel Pro"}
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=server.url, timeout=5.0) as http:
            refused = http.get(
                "/XMLpackageInfo.cgi", params={"output": "json"}, auth=("sim", "sim")
            )
            answer = http.get(
                "/XMLpackageInfo.cgi", params={"output": "json"}, auth=("reseller", "s3cret")
            ).json()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert refused.status_code == 401
    assert answer["packages"] == {"P7": {"packageid": "P7", "name": "cPanel Pro"}}
