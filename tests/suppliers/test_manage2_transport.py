"""How the Manage2 adapter maps credentials, transport and HTTP failures, and guards secrets."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from licensary.suppliers.base import SupplierUnavailable, Transient, UnknownOutcome
from licensary.suppliers.manage2 import Manage2Supplier

IP = "203.0.113.10"
SECRET = "hunter2-do-not-print"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bad_credentials_raise_supplier_unavailable(simulator, control, solo):
    with (
        Manage2Supplier("sim", simulator.url, "sim", "wrong") as sup,
        pytest.raises(SupplierUnavailable) as caught,
    ):
        sup.provision("op-1", solo, IP)
    assert caught.value.reason == "credentials refused (HTTP 401)"
    assert control.licenses() == []


def test_repr_hides_the_password(simulator):
    with Manage2Supplier("sim", simulator.url, "alice", SECRET) as sup:
        text = repr(sup)
    assert SECRET not in text
    assert "password='***'" in text
    assert "alice" in text


def test_errors_and_logs_never_carry_the_password(simulator, solo, caplog):
    caplog.set_level(logging.DEBUG)
    with (
        Manage2Supplier("sim", simulator.url, "alice", SECRET) as sup,
        pytest.raises(SupplierUnavailable) as caught,
    ):
        sup.provision("op-1", solo, IP)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert SECRET not in caplog.text


def test_from_config_reads_the_core_supplier_record(simulator, solo):
    class Config:
        name = "primary"
        base_url = simulator.url + "/"
        username = "sim"
        password = "sim"

    with Manage2Supplier.from_config(Config()) as sup:
        assert sup.name == "primary"
        assert sup.base_url == simulator.url
        assert sup.provision("op-1", solo, IP).ip == IP


def test_connection_refused_is_transient_even_for_a_mutating_call(solo):
    url = f"http://127.0.0.1:{free_port()}"
    with Manage2Supplier("down", url, "sim", "sim", timeout=1.0) as sup:
        with pytest.raises(Transient):
            sup.find(solo, IP)
        with pytest.raises(Transient):
            sup.terminate("op-1", "1001")


def test_a_dropped_connection_on_a_read_is_only_transient():
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    sup = Manage2Supplier("m", "https://m.test", "u", "p", transport=httpx.MockTransport(drop))
    with pytest.raises(Transient):
        sup.list_all()
    with pytest.raises(UnknownOutcome):
        sup.terminate("op-1", "1001")


def test_a_gateway_timeout_on_a_mutating_call_is_unknown_outcome():
    def gateway_timeout(request: httpx.Request) -> httpx.Response:
        return httpx.Response(504, text="upstream timed out")

    transport = httpx.MockTransport(gateway_timeout)
    sup = Manage2Supplier("m", "https://m.test", "u", "p", transport=transport)
    with pytest.raises(UnknownOutcome):
        sup.terminate("op-1", "1001")
    with pytest.raises(Transient):
        sup.list_all()


def test_a_non_json_answer_to_a_mutating_call_is_unknown_outcome():
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    sup = Manage2Supplier("m", "https://m.test", "u", "p", transport=httpx.MockTransport(html))
    with pytest.raises(UnknownOutcome):
        sup.terminate("op-1", "1001")
    with pytest.raises(Transient):
        sup.list_all()


def test_a_wrong_base_url_raises_supplier_unavailable(simulator, solo):
    with (
        Manage2Supplier("sim", simulator.url + "/nowhere", "sim", "sim") as sup,
        pytest.raises(SupplierUnavailable),
    ):
        sup.find(solo, IP)


def test_requests_use_get_basic_auth_and_json_output():
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": 1, "reason": "OK"})

    sup = Manage2Supplier("m", "https://m.test", "u", "p", transport=httpx.MockTransport(record))
    sup.terminate("op-9", "1001")

    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/XMLlicenseExpire.cgi"
    assert dict(request.url.params) == {
        "output": "json",
        "liscid": "1001",
        "reason": "Licensary operation op-9",
        "expcode": "normal",
    }
    assert request.headers["Authorization"] == "Basic dTpw"
