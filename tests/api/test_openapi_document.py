"""The OpenAPI document at /api/openapi.json loads and describes the contract of API.md so far:
every path built so far is listed with its method, and the binding fields are in its schemas."""

import importlib
import pkgutil
from typing import Any

import pytest
from django.test import Client
from ninja import Schema

import licensary

# The paths of API.md that are built so far, as (method, path).
CONTRACT_PATHS = [
    ("get", "/api/v1/account"),
    ("get", "/api/v1/accounts"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{account_id}"),
    ("post", "/api/v1/accounts/{account_id}/credit"),
    ("post", "/api/v1/accounts/{account_id}/ban"),
    ("get", "/api/v1/terms"),
    ("post", "/api/v1/terms"),
    ("post", "/api/v1/terms/accept"),
    ("get", "/api/v1/products"),
    ("post", "/api/v1/products"),
    ("patch", "/api/v1/products/{product_id}"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order_id}"),
    ("get", "/api/v1/invoices"),
    ("get", "/api/v1/invoices/{invoice_id}"),
    ("post", "/api/v1/invoices/{invoice_id}/pay-with-credit"),
    ("get", "/api/v1/licenses"),
    ("get", "/api/v1/licenses/{license_id}"),
    ("post", "/api/v1/licenses/{license_id}/renew"),
    ("post", "/api/v1/licenses/{license_id}/change-ip"),
    ("get", "/api/v1/licenses/{license_id}/history"),
    ("get", "/api/v1/review-queue"),
    ("post", "/api/v1/orders/{order_id}/retry"),
    ("post", "/api/v1/orders/{order_id}/approve"),
    ("post", "/api/v1/orders/{order_id}/reject"),
    ("get", "/api/v1/suppliers"),
    ("post", "/api/v1/suppliers"),
    ("patch", "/api/v1/suppliers/{name}"),
    ("post", "/api/v1/verify"),
    ("get", "/api/v1/verify/keys"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"),
    ("post", "/api/v1/webhooks/{webhook_id}/test"),
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"),
]

# The binding fields of API.md's resources, by the operation that answers with them.
CONTRACT_FIELDS = {
    ("get", "/api/v1/account"): [
        "id",
        "kind",
        "email",
        "status",
        "agent",
        "credit",
        "identity",
        "terms_accepted",
    ],
    ("get", "/api/v1/terms"): ["version", "published_at", "text"],
    ("get", "/api/v1/products/{product_id}"): [
        "id",
        "slug",
        "name",
        "kind",
        "manufacturer",
        "period_days",
        "price",
        "setup_fee",
        "requires_identity",
        "suppliers",
        "upstream_package",
        "active",
    ],
    ("get", "/api/v1/orders/{order_id}"): [
        "id",
        "account",
        "product",
        "ip",
        "kind",
        "status",
        "hold_reason",
        "held_at",
        "invoice",
        "license",
    ],
    ("get", "/api/v1/invoices/{invoice_id}"): [
        "id",
        "number",
        "account",
        "status",
        "total",
        "lines",
        "issued_at",
        "due_at",
        "paid_at",
    ],
    ("get", "/api/v1/licenses/{license_id}"): [
        "id",
        "account",
        "product",
        "kind",
        "ip",
        "status",
        "period_end",
        "blocked_at",
        "canceled_at",
        "deleted_at",
        "renewable_until",
        "cancel_reason",
    ],
    ("post", "/api/v1/verify"): ["document", "signature", "key_id"],
    ("post", "/api/v1/webhooks"): ["id", "url", "events", "status", "secret"],
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"): ["id", "secret"],
}


@pytest.fixture
def document(db: Any) -> dict[str, Any]:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def test_the_openapi_document_loads(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Licensary API"
    assert document["paths"]


@pytest.mark.parametrize("method, path", CONTRACT_PATHS)
def test_the_document_lists_every_path_of_the_contract_built_so_far(
    document: dict[str, Any], method: str, path: str
) -> None:
    assert method in document["paths"].get(path, {}), f"{method.upper()} {path} is missing"


def response_schema(document: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    answers = op["responses"]
    ok = next(answers[code] for code in ("200", "201") if code in answers)
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize("method, path", sorted(CONTRACT_FIELDS))
def test_the_document_describes_the_binding_fields(
    document: dict[str, Any], method: str, path: str
) -> None:
    schema = response_schema(document, document["paths"][path][method])

    missing = [name for name in CONTRACT_FIELDS[(method, path)] if name not in schema["properties"]]

    assert missing == []


def test_token_routes_declare_bearer_auth_and_the_public_ones_do_not(
    document: dict[str, Any],
) -> None:
    public = {
        ("get", "/api/v1/terms"),
        ("post", "/api/v1/verify"),
        ("get", "/api/v1/verify/keys"),
        ("post", "/api/v1/gateways/{name}/webhook"),
        # Zarinpal sends the payer's browser back here; its answer is verified with Zarinpal.
        ("get", "/api/v1/gateways/zarinpal/return"),
        ("post", "/api/v1/claims/{claim_id}/proof"),  # the server proves with the challenge
    }
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if (method, path) in public:
                assert not op.get("security"), (method, path)
            else:
                assert {"BearerAuth": []} in op.get("security", []), (method, path)


def test_the_interactive_docs_are_served(db: Any) -> None:
    assert Client().get("/api/docs").status_code == 200


def test_multipart_without_a_boundary_is_a_400_not_a_500(alice, product):
    from licensary.orders.services import order_create
    from tests.helpers import PUBLIC_IP, api_for

    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    api = api_for(alice)
    answer = api.client.post(
        f"/api/v1/invoices/{order.invoice_id}/receipts",
        data=b"--x\r\n",
        content_type="multipart/form-data",
        **api.headers,
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")


def test_amounts_beyond_any_real_price_are_refused_not_a_500(alice, staff):
    from licensary.ledger.services import account_credit
    from tests.helpers import api_for

    for amount in (-2396648990384728309760, 10**13):
        answer = api_for(staff).post(
            f"/accounts/{alice.pk}/credit", {"amount": amount, "note": "fuzz"}
        )
        assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
    assert account_credit(alice).amount == 0


def test_odd_ids_are_not_found_never_a_500(alice):
    from tests.helpers import api_for

    api = api_for(alice)
    for ref in ("²", "9" * 30, "-1"):
        answer = api.post("/orders", {"product": ref, "ip": "93.184.216.34"})
        assert (answer.status_code, answer.json_body["code"]) == (404, "not_found"), ref
        assert api.get(f"/accounts/{ref}").status_code == 404


def test_a_dual_stack_socket_address_is_the_ipv4_address(rf):
    from licensary.core.ip import client_ip

    request = rf.get("/", REMOTE_ADDR="::ffff:93.184.216.34")
    assert client_ip(request) == "93.184.216.34"


def test_a_product_with_licenses_keeps_its_kind(alice, product, staff):
    from licensary.billing.services import invoice_pay_with_credit
    from licensary.orders.services import order_create
    from tests.helpers import api_for, give_credit, run_jobs

    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip="93.184.216.34")
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    from licensary.catalog.services import product_update
    from licensary.core.errors import DomainError

    try:  # the API has no `kind` to patch; the admin and the service must refuse it too
        product_update(
            product=product, actor=staff, kind="manufacturer", manufacturer="X", suppliers=["s"]
        )
        raise AssertionError("the kind changed")
    except DomainError as exc:
        assert exc.code == "invalid_transition"
    bad_period = api_for(staff).patch(f"/products/{product.pk}", {"period_days": 31})
    assert (bad_period.status_code, bad_period.json_body["code"]) == (422, "validation_error")


def test_a_deadlocked_write_is_run_again_and_the_client_never_sees_it(alice, product, monkeypatch):
    from django.db import OperationalError

    import licensary.orders.api as orders_api
    from tests.helpers import api_for

    class Deadlock(Exception):
        sqlstate = "40P01"

    real, calls = orders_api.order_create, []

    def deadlock_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from Deadlock()
        return real(**kwargs)

    monkeypatch.setattr(orders_api, "order_create", deadlock_once)
    answer = api_for(alice).post("/orders", {"product": "panel", "ip": "93.184.216.34"})
    assert answer.status_code == 201
    assert len(calls) == 2


def test_every_operation_documents_its_refusals_as_problem_json(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    undocumented = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for status in ("4XX", "5XX"):
                content = op["responses"].get(status, {}).get("content", {})
                ref = content.get("application/problem+json", {}).get("schema", {}).get("$ref")
                if ref != "#/components/schemas/Problem":
                    undocumented.append(f"{method.upper()} {path} {status}")
    assert undocumented == []


def test_a_receipt_file_is_served_as_one_of_the_types_the_document_names(alice, product, document):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from licensary.billing.receipts import receipt_upload
    from licensary.orders.services import order_create
    from tests.helpers import PUBLIC_IP, api_for

    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    receipt = receipt_upload(
        invoice=order.invoice,
        reference="TX-1",
        actor=alice,
        file=SimpleUploadedFile("r.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32),
    )
    api = api_for(alice)

    answer = api.client.get(f"/api/v1/receipts/{receipt.pk}/file", **api.headers)

    op = document["paths"]["/api/v1/receipts/{receipt_id}/file"]["get"]
    assert answer.status_code == 200
    assert answer["Content-Type"] in op["responses"]["200"]["content"]
    assert set(op["responses"]["200"]["content"]) == {
        "image/png",
        "image/jpeg",
        "image/webp",
        "application/pdf",
    }


def test_every_schema_of_the_api_has_a_name_of_its_own(db: Any) -> None:
    """The document names each schema by its class name, and a second class of the same name
    silently replaces the first (a body then documents another endpoint's fields)."""
    for module in pkgutil.walk_packages(licensary.__path__, "licensary."):
        if ".migrations" not in module.name and ".management" not in module.name:
            importlib.import_module(module.name)
    seen: dict[str, str] = {}
    clashes = []

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("licensary.") and "[" not in sub.__name__:
                where = f"{sub.__module__}.{sub.__qualname__}"
                if sub.__name__ in seen and seen[sub.__name__] != where:
                    clashes.append(f"{sub.__name__}: {seen[sub.__name__]} and {where}")
                seen.setdefault(sub.__name__, where)
            walk(sub)

    walk(Schema)
    assert clashes == []
