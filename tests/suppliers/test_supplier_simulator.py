"""The Manage2 simulator itself: its wire format, auth and control endpoints."""

from __future__ import annotations

import threading

import httpx
import pytest

from licensary.suppliers.simulator import make_server

AUTH = ("sim", "sim")


@pytest.fixture
def http(simulator):
    with httpx.Client(base_url=simulator.url, timeout=5.0) as client:
        yield client


def call(http, function: str, **params: str) -> dict:
    response = http.get(f"/{function}.cgi", params={"output": "json", **params}, auth=AUTH)
    assert response.status_code == 200
    return response.json()


def test_manage2_functions_require_basic_auth(http):
    response = http.get("/XMLpackageInfo.cgi", params={"output": "json"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Manage2"'
    assert response.json()["status"] == 0


def test_package_info_lists_the_configured_packages(http):
    answer = call(http, "XMLpackageInfo")

    assert answer["status"] == 1
    assert answer["packages"] == {
        "P1": {"packageid": "P1", "name": "cPanel Solo"},
        "P2": {"packageid": "P2", "name": "cPanel Admin"},
    }


def test_add_answers_a_license_id_and_license_info_lists_it_with_string_fields(http):
    added = call(http, "XMLlicenseAdd", ip="203.0.113.10", packageid="P1", notes="op-1")
    info = call(http, "XMLlicenseInfo")

    assert added == {
        "version": 0.7,
        "status": 1,
        "reason": "OK",
        "licenseid": "1001",
        "ip": "203.0.113.10",
    }
    row = info["licenses"]["L1001"]
    assert (row["licenseid"], row["ip"], row["packageid"], row["status"]) == (
        "1001",
        "203.0.113.10",
        "P1",
        "1",
    )
    assert row["external_notes"] == "op-1"
    assert call(http, "XMLlicenseInfo", expired="1")["licenses"] == {}


def test_dry_run_add_creates_nothing(http):
    answer = call(http, "XMLlicenseAdd", ip="203.0.113.10", packageid="P1", dryrun="1")

    assert answer["status"] == 1
    assert http.get("/_control/licenses").json() == {"items": []}


def test_raw_lookup_reveals_another_companys_license_without_details(http):
    http.post("/_control/foreign", json={"ip": "198.51.100.7"})

    answer = call(http, "XMLRawlookup", ip="198.51.100.7", packageid="P1")

    assert answer == {
        "version": 0.7,
        "status": 1,
        "reason": "OK",
        "ip": "198.51.100.7",
        "licensed": "1",
        "owner": "other",
    }


def test_unknown_faults_are_refused(http):
    response = http.post("/_control/faults", json={"fault": "meteor", "count": 1})

    assert response.status_code == 400


def test_faults_are_consumed_after_count_matching_calls(http):
    http.post("/_control/faults", json={"fault": "http_500", "count": 2})

    codes = [
        http.get("/XMLpackageInfo.cgi", params={"output": "json"}, auth=AUTH).status_code
        for _ in range(3)
    ]

    assert codes == [500, 500, 200]
    assert http.get("/_control/faults").json() == {"items": []}


def test_a_fault_with_skip_lets_that_many_matching_calls_through_first(http):
    http.post("/_control/faults", json={"fault": "http_500", "count": 1, "skip": 2})

    codes = [
        http.get("/XMLpackageInfo.cgi", params={"output": "json"}, auth=AUTH).status_code
        for _ in range(4)
    ]

    assert codes == [200, 200, 500, 200]


def test_a_negative_skip_is_refused(http):
    response = http.post("/_control/faults", json={"fault": "http_500", "skip": -1})

    assert response.status_code == 400


def test_reset_forgets_licenses_foreign_ips_and_faults(http):
    call(http, "XMLlicenseAdd", ip="203.0.113.10", packageid="P1")
    http.post("/_control/foreign", json={"ip": "198.51.100.7"})
    http.post("/_control/faults", json={"fault": "http_500", "count": 5})

    assert http.post("/_control/reset").status_code == 200

    assert http.get("/_control/licenses").json() == {"items": []}
    assert http.get("/_control/faults").json() == {"items": []}
    assert call(http, "XMLRawlookup", ip="198.51.100.7")["licensed"] == "0"


def test_control_expire_of_an_unknown_license_is_not_found(http):
    response = http.post("/_control/expire", json={"licenseid": "424242"})

    assert response.status_code == 404


def test_make_server_takes_credentials_packages_and_foreign_ips():
    server = make_server(
        "127.0.0.1",
        0,
        username="bob",
        password="pw",
        packages={"X9": "WHM"},
        foreign=["198.51.100.9"],
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=server.url, auth=("bob", "pw")) as client:
            params = {"output": "json"}
            packages = client.get("/XMLpackageInfo.cgi", params=params).json()["packages"]
            raw = client.get(
                "/XMLRawlookup.cgi", params={**params, "ip": "198.51.100.9", "packageid": "X9"}
            ).json()
    finally:
        server.shutdown()
        server.server_close()
    assert list(packages) == ["X9"]
    assert raw["owner"] == "other"
