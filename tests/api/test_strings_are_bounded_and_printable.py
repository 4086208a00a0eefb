"""RELIABILITY "bad input": every string the API takes is bounded and free of control
characters and lone surrogates, and every filter is checked, before anything reaches the
database. PostgreSQL refuses a NUL byte in any text, a value longer than its column and an
`inet` that is no address (500s where SQLite stores them or finds nothing); each is
`422 validation_error` here, and changes nothing, on both databases (CI runs this file on both).

The string fields, query filters and path parameters are read from the OpenAPI document, so a
new input is covered as soon as it is served."""

import json
from typing import Any

import pytest

from licensary.accounts.models import User
from licensary.catalog.models import Product
from tests.api.support import PROBLEM, raw_post, snapshot
from tests.api.test_bad_input_changes_nothing import (
    ENDPOINTS,
    Case,
    World,
    body_schema,
    fill,
    multipart,
    openapi,
    operations,
    request,
)
from tests.helpers import PUBLIC_IP

# Owned by the verification work, which bounds its own input (its nonce above all).
ELSEWHERE = {"POST /verify"}
# What each kind of bad text is sent as, given a good value to spoil.
BAD_TEXT = {
    "a NUL byte": lambda good: good + "\x00",
    "a bell": lambda good: good[:1] + "\x07" + good[1:],
    "a C1 control": lambda good: good + "\x85",
    "a lone surrogate": lambda good: good + "\ud800",
}


@pytest.fixture
def world(
    alice: User, bob: User, carol: User, dave: User, staff: User, product: Product, settings: Any
) -> World:
    return World(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        staff=staff,
        product=product,
        settings=settings,
    )


def string_properties(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, dict]:
    """The body's properties that take a string (or a list of strings), by name."""
    found = {}
    for name, prop in body.get("properties", {}).items():
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "string" or option.get("items", {}).get("type") == "string":
                found[name] = option
    return found


def text_inputs(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation, where, name, schema) of every string input of every operation."""
    inputs = []
    for name, op in sorted(operations(document).items()):
        if name in ELSEWHERE:
            continue
        for param in op.get("parameters", []):
            for option in param["schema"].get("anyOf", [param["schema"]]):
                if option.get("type") == "string":
                    inputs.append((name, param["in"], param["name"], option))
        body = body_schema(document, op)
        if body is not None:
            for prop, schema in string_properties(document, body).items():
                inputs.append((name, "body", prop, schema))
    return inputs


def test_every_string_the_api_takes_is_bounded_and_says_which_characters_it_refuses(
    db: Any,
) -> None:
    unbounded = []
    for name, where, param, schema in text_inputs(openapi()):
        schema = schema.get("items", schema)
        formats = [option.get("format") for option in schema.get("anyOf", [schema])]
        if "maxLength" not in schema:
            unbounded.append(f"{name} {where} {param}")
        elif not (schema.get("pattern") or all(formats)):
            unbounded.append(f"{name} {where} {param}: no pattern")
    assert unbounded == []


def refusal(response: Any) -> tuple[int, str | None]:
    body = response.json() if response["Content-Type"] == PROBLEM else {}
    return response.status_code, body.get("code")


BODY_ENDPOINTS = sorted(
    name
    for name, e in ENDPOINTS.items()
    if name not in ELSEWHERE and name.split()[0] in ("POST", "PATCH") and e.control_build is None
)


@pytest.mark.parametrize("name", BODY_ENDPOINTS)
def test_bad_text_in_any_body_field_is_a_validation_error_and_changes_nothing(
    name: str, world: World
) -> None:
    from django.db import transaction

    document = openapi()
    body = body_schema(document, operations(document)[name])
    if body is None:
        pytest.skip("no JSON body")
    endpoint = ENDPOINTS[name]
    method = name.split()[0].lower()
    failures = []
    for field, schema in string_properties(document, body).items():
        good = fill(str((endpoint.body or {}).get(field) or "text"), world.ids())
        many = "items" in schema
        bound = schema.get("items", schema).get("maxLength", 100_000)
        bads = {label: spoil(good) for label, spoil in BAD_TEXT.items()}
        bads[f"{bound + 1} characters"] = (good * (bound + 1))[: bound + 1]
        for label, bad in bads.items():
            case = Case(
                f"{field}: {label}", 422, "validation_error", body={field: [bad] if many else bad}
            )
            with transaction.atomic():
                if endpoint.before:
                    endpoint.before(world)
                before = snapshot()
                response = request(world, endpoint, method, case)
                after = snapshot()
                transaction.set_rollback(True)
            if refusal(response) != (422, "validation_error") or before != after:
                failures.append(
                    f"{case.label}: {refusal(response)} {response.content[:150]!r}"
                    + ("" if before == after else " and it changed the state")
                )
    assert failures == []


def test_bad_text_in_a_query_filter_or_path_is_a_validation_error(world: World) -> None:
    failures = []
    for name, where, param, _ in text_inputs(openapi()):
        if where not in ("query", "path") or param.endswith("_id"):
            continue  # ids that are no ids are `not_found` (test_bad_input_changes_nothing)
        endpoint = ENDPOINTS[name]
        method, template = name.split(" ", 1)
        for label, value in (
            ("a NUL byte", "a%00b"),
            ("a bell", "a%07b"),
            ("300 characters", "a" * 300),
        ):
            path = fill(endpoint.path, world.ids())
            if where == "path":
                path = template.replace("{" + param + "}", value)
                case = Case(label, 422, "validation_error", path=path)
            else:
                case = Case(label, 422, "validation_error", query=f"{param}={value}")
            response = request(world, endpoint, method.lower(), case)
            if refusal(response) != (422, "validation_error"):
                failures.append(
                    f"{name} {param} {label}: {refusal(response)} {response.content[:150]!r}"
                )
    assert failures == []


@pytest.mark.parametrize(
    "ip",
    [
        "zzz",
        "1.2.3.4/33",
        "1.2.3.4/32",
        "93.184.216.0/24",
        "93.184.216.34:80",
        " 93.184.216.34",
        "1.2.3",
        "::g",
        "93.184.216.34%00",
    ],
)
def test_the_license_ip_filter_takes_one_address_and_nothing_else(world: World, ip: str) -> None:
    response = world.apis["alice"].get(f"/licenses?ip={ip}")

    assert refusal(response) == (422, "validation_error"), response.content


def test_the_license_ip_filter_finds_the_license_on_that_address(world: World) -> None:
    page = world.apis["alice"].get(f"/licenses?ip={PUBLIC_IP}").json_body

    assert [item["ip"] for item in page["items"]] == [PUBLIC_IP]
    assert world.apis["alice"].get("/licenses?ip=2001:db8::1").json_body["items"] == []


def test_an_email_over_254_characters_is_refused_and_changes_nothing(world: World) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example"  # valid, but 255 long
    assert len(email) > 254
    before = snapshot()

    response = world.apis["staff"].post("/accounts", {"kind": "customer", "email": email})

    assert refusal(response) == (422, "validation_error"), response.json_body
    assert snapshot() == before


def test_a_supplier_name_longer_than_its_column_is_refused_and_changes_nothing(
    world: World,
) -> None:
    before = snapshot()

    response = world.apis["staff"].post(
        "/suppliers",
        {"name": "s" * 51, "base_url": "https://s.test", "username": "u", "password": "p"},
    )

    assert refusal(response) == (422, "validation_error"), response.json_body
    assert snapshot() == before


def test_a_long_product_name_makes_a_slug_that_fits_its_column(world: World) -> None:
    name = "Panel " * 33  # 198 characters: a name that fits, a slug of it that would not

    response = world.apis["staff"].post("/products", {"name": name, "kind": "own", "price": 700})

    assert response.status_code == 201, response.json_body
    assert response.json_body["slug"] == ("panel-" * 10)[:-1]


def test_free_text_keeps_its_tabs_and_line_breaks(world: World) -> None:
    text = "Article 1.\n\tBe excellent.\r\nArticle 2."

    response = world.apis["staff"].post("/terms", {"text": text})

    assert response.status_code == 201, response.json_body
    assert response.json_body["text"] == text


def test_a_one_line_value_refuses_a_line_break(world: World) -> None:
    response = world.apis["staff"].post(
        f"/accounts/{world.alice.pk}/credit", {"amount": 5, "note": "one\nline"}
    )

    assert response.status_code == 200, "a note is free text"
    refused = world.apis["staff"].post(
        "/suppliers",
        {"name": "beta", "base_url": "https://beta.test", "username": "u\nv", "password": "p"},
    )
    assert refusal(refused) == (422, "validation_error")


def test_a_lone_surrogate_escaped_in_raw_json_is_refused(world: World) -> None:
    raw = '{"amount": 5, "note": "half \\ud83d of an emoji"}'
    assert json.loads(raw)["note"] == "half \ud83d of an emoji"

    response = raw_post(world.apis["staff"], f"/accounts/{world.alice.pk}/credit", raw)

    assert refusal(response) == (422, "validation_error"), response.json_body


def test_a_receipt_reference_with_a_nul_byte_is_refused_and_changes_nothing(world: World) -> None:
    body, headers = multipart(reference="TX-\x00-1")(world)
    before = snapshot()

    response = raw_post(
        world.apis["alice"],
        f"/invoices/{world.unpaid.invoice_id}/receipts",
        body,
        content_type=headers["Content-Type"],
    )

    assert refusal(response) == (422, "validation_error"), response.json_body
    assert snapshot() == before


def test_an_idempotency_key_with_a_control_character_is_refused(world: World) -> None:
    before = snapshot()

    response = world.apis["alice"].post(
        "/deposits", {"amount": 500}, **{"Idempotency-Key": "key\x00one"}
    )

    assert refusal(response) == (422, "validation_error"), response.json_body
    assert snapshot() == before
