"""API.md "Conventions": every answer under /api/ is JSON. An unknown path is `404 not_found`
and a known path asked with a method it does not serve is `405 method_not_allowed`, both
problem+json, never Django's HTML page or ninja's bare text."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from tests.api.support import PROBLEM
from tests.helpers import api_for

UNKNOWN = [
    "/api/nope",
    "/api/v1/nope",
    "/api/v1/accounts/1/nope",
    "/api/v2/account",
    "/api/",
    "/api/v1/account/",
]


def problem_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == PROBLEM, (response.status_code, response.content[:200])
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == response.status_code
    return body


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unknown_path_under_api_is_not_found_as_problem_json(
    db: Any, path: str, method: str
) -> None:
    response = getattr(Client(), method)(path)

    assert response.status_code == 404
    assert problem_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("delete", "/api/v1/account", "GET"),
        ("put", "/api/v1/orders", "GET, POST"),
        ("post", "/api/v1/licenses/1/history", "GET"),
        ("get", "/api/v1/terms/accept", "POST"),
        ("options", "/api/v1/products", "GET, POST"),
    ],
)
def test_a_wrong_method_on_a_known_path_is_method_not_allowed_as_problem_json(
    alice: User, method: str, path: str, allowed: str
) -> None:
    api = api_for(alice)

    response = getattr(api.client, method)(path, **api.headers)

    assert response.status_code == 405
    assert problem_of(response)["code"] == "method_not_allowed"
    assert sorted(response["Allow"].split(", ")) == allowed.split(", ")


def test_a_path_outside_the_api_keeps_django_s_page(db: Any) -> None:
    response = Client().get("/nope")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/")


def test_a_server_error_under_api_is_problem_json_too(alice: User, monkeypatch: Any) -> None:
    import licensary.accounts.api as accounts_api

    def broken(user: User) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(accounts_api, "account_out", broken)
    api = api_for(alice)
    api.client.raise_request_exception = False

    response = api.client.get("/api/v1/account", **api.headers)

    assert response.status_code == 500
    assert problem_of(response)["code"] == "server_error"
    assert "a bug" not in response.content.decode()
