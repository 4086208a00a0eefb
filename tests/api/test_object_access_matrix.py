"""The object-access matrix (RELIABILITY "Access and sessions", ASVS 8.2.2 / 8.4.1).

Every object route x every actor, on objects of dave (carol's customer). A foreign object is
`not_found`, with the very answer a made-up id gets; the owner, the owner's agent and staff
get through; non-staff on staff routes are `permission_denied` (or `not_found` when the object
is not theirs to see); anonymous callers are `unauthenticated`. Webhook endpoints are agent
A's own: customers have none (`permission_denied`), agent B finds none, staff read them only.
Each cell runs in a savepoint that is rolled back, so every cell starts from the same objects.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.notifications.services import endpoint_create, endpoint_test
from tests.api.support import PROBLEM, delivered_order, held_order, unpaid_order
from tests.helpers import PUBLIC_IP, Api, api_for, give_credit

ACTORS = [
    "owner",
    "other customer",
    "agent A",
    "agent B",
    "agent B's customer",
    "staff",
    "anonymous",
]
SEES = {"owner", "agent A", "staff"}  # who may see dave's objects
MADE_UP_ID = "987654321"


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # `{id}` is the object
    obj: str
    kind: str  # read | act (the owner's side may act) | staff | agent read | agent act
    body: dict[str, Any] | None = None


ROUTES = [
    Route("get", "/accounts/{id}", "account", "read"),
    Route("get", "/invoices/{id}", "invoice", "read"),
    Route("get", "/orders/{id}", "order", "read"),
    Route("get", "/licenses/{id}", "license", "read"),
    Route("get", "/licenses/{id}/history", "license", "read"),
    Route("post", "/invoices/{id}/pay-with-credit", "invoice", "act"),
    Route("post", "/licenses/{id}/renew", "license", "act"),
    Route("post", "/orders/{id}/cancel", "order", "act"),
    Route("post", "/orders/{id}/retry", "held", "staff", {}),
    Route("post", "/orders/{id}/approve", "held", "staff", {"note": "checked"}),
    Route("post", "/orders/{id}/reject", "held", "staff", {"note": "no"}),
    Route("post", "/accounts/{id}/credit", "account", "staff", {"amount": 100, "note": "gift"}),
    Route("patch", "/products/{id}", "product", "staff", {"price": 1100}),
    # Agent A's webhook endpoint and its delivery (`{webhook}` in a delivery's path).
    Route("get", "/webhooks/{id}", "webhook", "agent read"),
    Route("patch", "/webhooks/{id}", "webhook", "agent act", {"events": ["license.deleted"]}),
    Route("post", "/webhooks/{id}/rotate-secret", "webhook", "agent act"),
    Route("post", "/webhooks/{id}/test", "webhook", "agent act"),
    Route("get", "/webhooks/{id}/deliveries", "webhook", "agent read"),
    Route("get", "/webhooks/{webhook}/deliveries/{id}", "delivery", "agent read"),
    Route("post", "/webhooks/{webhook}/deliveries/{id}/replay", "delivery", "agent act"),
]


def expected(route: Route, actor: str) -> set[tuple[int, str | None]] | str:
    """The answers allowed for `actor` on `route`; "2xx" when it must get through."""
    if actor == "anonymous":
        return {(401, "unauthenticated")}
    if route.kind.startswith("agent"):
        if actor == "agent A" or (actor == "staff" and route.kind == "agent read"):
            return "2xx"
        return {(404, "not_found")} if actor == "agent B" else {(403, "permission_denied")}
    if route.kind == "staff":
        if actor == "staff":
            return "2xx"
        return {(403, "permission_denied"), (404, "not_found")}
    if actor in SEES:
        return "2xx"
    return {(404, "not_found")}


@pytest.fixture
def objects(carol: User, dave: User, staff: User, product: Product) -> dict[str, str]:
    """dave's license, unpaid order (and its invoice), and an order held for staff; credit
    enough to pay the unpaid invoice."""
    lic = delivered_order(dave, product, PUBLIC_IP, staff).license_id
    unpaid = unpaid_order(dave, product, "93.184.216.60")
    held = held_order(dave, product, "93.184.216.61", staff)
    give_credit(dave, 1500, staff)
    webhook, _ = endpoint_create(
        actor=carol, url="https://93.184.216.34/hooks", events=["invoice.paid"]
    )
    delivery = endpoint_test(endpoint=webhook, actor=carol)
    return {
        "account": str(dave.pk),
        "invoice": str(unpaid.invoice_id),
        "order": str(unpaid.pk),
        "license": str(lic),
        "held": str(held.pk),
        "product": str(product.pk),
        "webhook": str(webhook.pk),
        "delivery": str(delivery.pk),
    }


@pytest.fixture
def actors(
    alice: User, carol: User, dave: User, erin: User, frank: User, staff: User
) -> dict[str, Api]:
    return {
        "owner": api_for(dave),
        "other customer": api_for(alice),
        "agent A": api_for(carol),
        "agent B": api_for(erin),
        "agent B's customer": api_for(frank),
        "staff": api_for(staff),
        "anonymous": Api(),
    }


def call(api: Api, route: Route, object_id: str, objects: dict[str, str]) -> Any:
    path = route.template.replace("{id}", object_id)
    for name, value in objects.items():  # the path's other objects (a delivery's endpoint)
        path = path.replace("{" + name + "}", value)
    with transaction.atomic():
        if route.method == "get":
            response = api.get(path)
        elif route.method == "patch":
            response = api.patch(path, route.body)
        elif route.body is not None:
            response = api.post(path, route.body)
        else:
            response = api.client.generic(
                "POST", f"/api/v1{path}", b"", content_type="", **api.headers
            )
            response.json_body = response.json() if response.content else None
        transaction.set_rollback(True)
    if isinstance(response.json_body, dict):
        response.json_body.pop("request_id", None)  # each request's own: not compared
    return response


def test_every_object_route_answers_every_actor_as_the_matrix_says(
    objects: dict[str, str], actors: dict[str, Api]
) -> None:
    rows: list[str] = []
    mismatches: list[str] = []
    for route in ROUTES:
        cells = []
        for actor in ACTORS:
            response = call(actors[actor], route, objects[route.obj], objects)
            problem = response.json_body if response["Content-Type"] == PROBLEM else {}
            got = (response.status_code, (problem or {}).get("code"))
            want = expected(route, actor)
            ok = 200 <= got[0] < 300 if want == "2xx" else got in want
            if ok and got[0] == 404:
                # Not found must not tell a foreign object from one that does not exist.
                made_up = call(actors[actor], route, MADE_UP_ID, objects)
                if (made_up.status_code, made_up.json_body) != (404, response.json_body):
                    ok = False
                    got = (got[0], f"{got[1]}, but a made-up id gets {made_up.json_body}")
            cells.append(f"{got[0]}{'' if ok else '!'}")
            if not ok:
                mismatches.append(
                    f"{route.method.upper()} {route.template} as {actor}: got "
                    f"{got} {response.content[:150]!r}, expected {want}"
                )
        rows.append(
            f"{route.method.upper():6} {route.template:32} " + " ".join(f"{c:>9}" for c in cells)
        )
    header = f"{'':6} {'route':32} " + " ".join(f"{a[:9]:>9}" for a in ACTORS)
    table = "\n".join([header, *rows])
    assert mismatches == [], f"\n{table}\n\n" + "\n".join(mismatches)


def test_dave_s_objects_are_listed_for_carol_but_not_for_another_agent(
    objects: dict[str, str], actors: dict[str, Api]
) -> None:
    for path, key in (("/orders", "order"), ("/invoices", "invoice"), ("/licenses", "license")):
        carol_sees = {item["id"] for item in actors["agent A"].get(path).json_body["items"]}
        erin_sees = {item["id"] for item in actors["agent B"].get(path).json_body["items"]}
        frank_sees = {
            item["id"] for item in actors["agent B's customer"].get(path).json_body["items"]
        }
        assert objects[key] in carol_sees, path
        assert objects[key] not in erin_sees | frank_sees, path
    carol_accounts = {a["id"] for a in actors["agent A"].get("/accounts").json_body["items"]}
    erin_accounts = {a["id"] for a in actors["agent B"].get("/accounts").json_body["items"]}
    assert objects["account"] in carol_accounts
    assert objects["account"] not in erin_accounts
