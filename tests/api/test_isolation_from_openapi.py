"""Isolation for every route, read off the served OpenAPI document (issue 11, item 5;
RELIABILITY "Access and sessions", ASVS 8.2.2 / 8.4.1).

Every operation of `/api/openapi.json` whose path takes a parameter is called with the ids of
real objects of carol (an agent) and dave (her customer):
- by erin (another agent) and frank (erin's customer): `404 not_found`, the very answer a
  made-up id gets, so a foreign object cannot be told from one that does not exist; on a route
  with two ids also with the caller's own outer object and the foreign inner one;
- by the owner with a token holding every scope but the one the route needs:
  `403 permission_denied`, naming that scope;
- and, so that the ids are known to be right, by the owner itself with a full token: anything
  but `not_found`.
Staff routes may refuse the others with `permission_denied` or `not_found`, nothing else. The
routes without a token are an allow-list, each with its reason. Body fields that name an object
(`account`, `license`, `invoice`: named like a path parameter) are held to the same
`not_found`, or say why they are not.

A new route fails here until it is placed: its parameter needs a line in `OBJECTS` (and the
object built in `World`), and a route that is not the caller's own object needs a line in
`STAFF_ONLY`, `AGENTS_ONLY`, `SHARED` or `PUBLIC`. A route that answers a foreign caller with
anything but the refusal its kind allows fails too. Every call runs in a savepoint that is
rolled back, so each starts from the same objects.
"""

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import User
from licensary.accounts.scopes import ALL_SCOPES, route_scope
from licensary.accounts.services import token_create
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.catalog.models import Product
from licensary.catalog.services import agent_tier_create, wholesale_price_set
from licensary.governance.claims import claim_open
from licensary.governance.transfers import transfer_request
from licensary.licenses.models import License
from licensary.notifications.services import endpoint_create, endpoint_test
from licensary.suppliers.services import supplier_create
from licensary.support.services import ticket_message_add, ticket_open
from tests.api.support import PROBLEM, delivered_order, held_order, unpaid_order
from tests.helpers import OTHER_IP, PUBLIC_IP, Api, api_for

PREFIX = "/api/v1"
MADE_UP_ID = "987654321"
NOT_FOUND = (404, "not_found")
DENIED = (403, "permission_denied")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HOOK_URL = "https://93.184.216.34/hooks"
NEW_IP = "93.184.216.99"  # a change-ip target nobody holds
BOUNDARY = "isolation-boundary"

# The object a path parameter names, by the path segment in front of it; a route is called
# once for each object listed (and for each combination when it takes two ids). A new route
# under a known segment needs no line here (/agents/{agent_id}/statement is carol's); a new
# segment is one line (`"agent-tiers/{tier_id}": ("tier",)`) and its object in `World`.
OBJECTS: dict[str, tuple[str, ...]] = {
    "accounts/{account_id}": ("dave", "carol"),
    "agents/{agent_id}": ("carol",),
    "tokens/{token_id}": ("dave's token", "carol's token"),
    "products/{product_id}": ("product",),
    "invoices/{invoice_id}": ("unpaid invoice", "paid invoice"),
    "refunds/{refund_id}": ("refund",),
    "receipts/{receipt_id}": ("receipt",),
    "orders/{order_id}": ("unpaid order", "held order"),
    "licenses/{license_id}": ("license",),
    "suppliers/{name}": ("supplier",),
    "transfers/{transfer_id}": ("transfer",),
    "claims/{claim_id}": ("claim",),
    "tickets/{ticket_id}": ("ticket",),
    "attachments/{attachment_id}": ("attachment",),
    "webhooks/{webhook_id}": ("webhook",),
    "deliveries/{delivery_id}": ("delivery",),
    "prices/{product_id}": ("product",),
    "agent-tiers/{tier_id}": ("tier",),
}

# Each foreign caller's own objects: on a route with two ids, the caller names its own outer
# object and the foreign inner one (another ticket's file through one's own ticket).
OWN_OBJECTS: dict[str, dict[str, str]] = {
    "erin": {"webhooks/{webhook_id}": "erin's webhook", "tickets/{ticket_id}": "erin's ticket"},
    "frank": {"tickets/{ticket_id}": "frank's ticket"},
}

# Staff's routes: the others get `permission_denied` (or `not_found` when the object is not
# theirs to see either), never through. One line per route (`"PUT /agents/{agent_id}/prices"`).
STAFF_ONLY = frozenset(
    {
        "POST /accounts/{account_id}/credit",
        "POST /accounts/{account_id}/ban",
        "GET /accounts/{account_id}/identity/document",
        "POST /accounts/{account_id}/identity/verify",
        "POST /accounts/{account_id}/identity/reject",
        "GET /accounts/{account_id}/support-evidence",
        "GET /agents/{agent_id}/reports",
        "POST /agents/{agent_id}/warnings",
        "GET /agents/{agent_id}/warnings",
        "GET /agents/{agent_id}/standing",
        "PATCH /products/{product_id}",
        "POST /refunds/{refund_id}/approve",
        "POST /refunds/{refund_id}/reject",
        "POST /receipts/{receipt_id}/confirm",
        "POST /receipts/{receipt_id}/reject",
        "POST /orders/{order_id}/retry",
        "POST /orders/{order_id}/approve",
        "POST /orders/{order_id}/reject",
        "POST /licenses/{license_id}/unresolvable",
        "PATCH /suppliers/{name}",
        "POST /claims/{claim_id}/approve",
        "POST /claims/{claim_id}/reject",
        "POST /tickets/{ticket_id}/assign",
        "POST /tickets/{ticket_id}/unresolvable",
        "POST /agents/{agent_id}/prices",
        "DELETE /agents/{agent_id}/prices/{product_id}",
        "POST /agents/{agent_id}/tier",
        "GET /agent-tiers/{tier_id}/prices",
        "POST /agent-tiers/{tier_id}/prices",
        "DELETE /agent-tiers/{tier_id}/prices/{product_id}",
    }
)

# An agent's own objects: another agent finds none (`not_found`); a customer has none of its
# kind at all (`permission_denied`, whatever the id).
AGENTS_ONLY = frozenset(
    {
        "GET /webhooks/{webhook_id}",
        "PATCH /webhooks/{webhook_id}",
        "POST /webhooks/{webhook_id}/rotate-secret",
        "POST /webhooks/{webhook_id}/test",
        "GET /webhooks/{webhook_id}/deliveries",
        "GET /webhooks/{webhook_id}/deliveries/{delivery_id}",
        "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    }
)

# Objects every signed-in account may reach, and why; only the token's scope is checked.
SHARED: dict[str, str] = {
    "GET /products/{product_id}": "the catalog: every signed-in account reads the products",
    "POST /agents/{agent_id}/reports": "rule 9: anyone signed in may report any agent",
}

# Routes that take no token, and why (every one of the document, with a path id or not).
PUBLIC: dict[str, str] = {
    "GET /terms": "the latest terms are read before an account accepts them (rule 1)",
    "POST /verify": "licensed servers phone home by their IP, without an account",
    "GET /verify/keys": "licensed servers learn the signing keys without an account",
    "POST /gateways/{name}/webhook": "the payment gateway calls, proven by its signature",
    "GET /gateways/zarinpal/return": "Zarinpal sends the payer's browser back, with no token; "
    "the authority is verified with Zarinpal before anything is recorded, and one never "
    "handed out is not_found",
    "POST /claims/{claim_id}/proof": "the claimed server answers the challenge from its IP "
    "(tests/governance: a wrong challenge is the made-up id's not_found)",
}


@dataclass(frozen=True)
class Ref:
    """A body field that names one of the world's objects."""

    key: str


# Values for required body fields, by name; other fields get one of their type.
PLAUSIBLE: dict[str, Any] = {
    "amount": 100,
    "ip": NEW_IP,
    "gateway": "stripe",
    "reason": "other",
    "ticket": Ref("ticket"),
}
# Bodies the schema does not tell well enough, by route ("METHOD /path").
BODIES: dict[str, dict[str, Any]] = {
    "POST /agents/{agent_id}/prices": {"product": "panel", "price": 650},
    "POST /agent-tiers/{tier_id}/prices": {"product": "panel", "price": 750},
}

# Body fields that name an object (a field named like a path parameter: `account`, `license`):
# (route, field) -> (the object the field names, the rest of a valid body). erin and frank
# naming it are `not_found`, as a made-up id is.
BODY_IDS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST /orders", "account"): ("dave", {"product": "panel", "ip": "93.184.216.77"}),
    ("POST /claims", "account"): ("dave", {"product": "panel", "ip": PUBLIC_IP}),
    ("POST /tickets", "account"): (
        "dave",
        {"department": "technical", "subject": "Help", "body": "Please."},
    ),
    ("POST /tickets", "license"): (
        "license",
        {"department": "technical", "subject": "Help", "body": "Please."},
    ),
    ("POST /refunds", "invoice"): ("paid invoice", {"reason": "changed my mind"}),
    ("POST /transfers", "license"): ("license", {"to_account": Ref("alice")}),
}
# Body fields that name an object but are no isolation question, and why.
BODY_IDS_EXEMPT: dict[tuple[str, str], str] = {
    ("POST /orders", "product"): "the catalog: every signed-in account reads the products",
    ("POST /claims", "product"): "the catalog: every signed-in account reads the products",
    ("POST /accounts", "agent"): "agents are known to everyone (rule 9: anyone reports one); "
    "an agent naming another is permission_denied, and only staff name any",
    ("POST /licenses/{license_id}/unresolvable", "ticket"): "a staff route (STAFF_ONLY)",
    ("POST /verify", "product"): "a licensed server names its product's slug (PUBLIC)",
    ("POST /agents/{agent_id}/prices", "product"): "a staff route (STAFF_ONLY)",
    ("POST /agent-tiers/{tier_id}/prices", "product"): "a staff route (STAFF_ONLY)",
    ("POST /agents/{agent_id}/tier", "tier"): "a staff route (STAFF_ONLY)",
}


@dataclass(frozen=True)
class Obj:
    id: str
    owner: str  # the account on whose side the object is


@dataclass(frozen=True)
class Operation:
    name: str  # "POST /licenses/{license_id}/renew"
    method: str
    template: str  # the path without /api/v1
    spec: dict[str, Any]

    @property
    def params(self) -> list[str]:
        """`segment/{param}` for each path parameter, in order."""
        return re.findall(r"[^/]+/\{[^}]+\}", self.template)


class World:
    """dave's license (whose problem ticket has a file), unpaid order, held and refunded
    order, receipt, identity document, token, transfer (to alice) and claim (on alice's
    license); carol's token and webhook endpoint with a delivery; a supplier; erin's webhook,
    erin's and frank's tickets; tokens by owner and by the scope they lack."""

    def __init__(self, cast: dict[str, User], product: Product) -> None:
        self.cast = cast
        staff, carol, dave, alice = cast["staff"], cast["carol"], cast["dave"], cast["alice"]
        delivered = delivered_order(dave, product, PUBLIC_IP, staff)
        lic = License.objects.get(pk=delivered.license_id)
        delivered_order(alice, product, OTHER_IP, staff)  # the license dave claims
        unpaid = unpaid_order(dave, product, "93.184.216.60")
        held = held_order(dave, product, "93.184.216.61", staff)
        refund = refund_request(invoice=held.invoice, reason="changed my mind", actor=dave)
        receipt = receipt_upload(
            invoice=unpaid.invoice,
            reference="TX-ISO-1",
            file=SimpleUploadedFile("r.png", PNG + b"receipt"),
            actor=dave,
        )
        identity_submit(account=dave, file=SimpleUploadedFile("id.png", PNG + b"id"), actor=dave)
        ticket = ticket_open(
            account=dave,
            department="technical",
            subject="It does not start",
            body="The panel fails on boot.",
            license=lic,
            actor=dave,
        )
        attachment = ticket_message_add(
            ticket=ticket,
            body="A screenshot.",
            files=[SimpleUploadedFile("s.png", PNG + b"shot")],
            actor=dave,
        ).attachments.get()
        transfer = transfer_request(license=lic, to_account=alice, actor=dave)
        claim = claim_open(product=product, ip=OTHER_IP, actor=dave)
        supplier = supplier_create(
            actor=staff,
            values={
                "name": "acme",
                "kind": "manage2",
                "base_url": "https://acme.test",
                "username": "u",
                "password": "p",
            },
        )
        webhook = endpoint_create(actor=carol, url=HOOK_URL, events=["invoice.paid"])[0]
        delivery = endpoint_test(endpoint=webhook, actor=carol)
        erin_webhook = endpoint_create(actor=cast["erin"], url=HOOK_URL, events=["invoice.paid"])[0]
        erin_ticket, frank_ticket = (
            ticket_open(
                account=cast[name],
                department="technical",
                subject="Mine",
                body="My own question.",
                actor=cast[name],
            )
            for name in ("erin", "frank")
        )
        # Wholesale prices: carol's own for the panel, and a tier's.
        tier = agent_tier_create(actor=staff, name="gold")
        wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=0)
        wholesale_price_set(actor=staff, product=product, tier=tier, price=800, setup_fee=0)
        self.objects: dict[str, Obj] = {
            "alice": Obj(str(alice.pk), "alice"),
            "dave": Obj(str(dave.pk), "dave"),
            "carol": Obj(str(carol.pk), "carol"),
            "dave's token": Obj(str(token_create(user=dave, name="robot")[0].pk), "dave"),
            "carol's token": Obj(str(token_create(user=carol, name="robot")[0].pk), "carol"),
            "product": Obj(str(product.pk), "dave"),
            "unpaid invoice": Obj(str(unpaid.invoice_id), "dave"),
            "paid invoice": Obj(str(delivered.invoice_id), "dave"),
            "refund": Obj(str(refund.pk), "dave"),
            "receipt": Obj(str(receipt.pk), "dave"),
            "unpaid order": Obj(str(unpaid.pk), "dave"),
            "held order": Obj(str(held.pk), "dave"),
            "license": Obj(str(lic.pk), "dave"),
            "supplier": Obj(supplier.name, "staff"),
            "transfer": Obj(str(transfer.pk), "dave"),
            "claim": Obj(str(claim.pk), "dave"),
            "ticket": Obj(str(ticket.pk), "dave"),
            "attachment": Obj(str(attachment.pk), "dave"),
            "webhook": Obj(str(webhook.pk), "carol"),
            "delivery": Obj(str(delivery.pk), "carol"),
            "erin's webhook": Obj(str(erin_webhook.pk), "erin"),
            "erin's ticket": Obj(str(erin_ticket.pk), "erin"),
            "frank's ticket": Obj(str(frank_ticket.pk), "frank"),
            "tier": Obj(str(tier.pk), "staff"),
        }
        self.apis = {name: api_for(user) for name, user in cast.items()}
        self._lacking: dict[tuple[str, str], Api] = {}

    def lacking(self, owner: str, scope: str) -> Api:
        """`owner`'s token with every scope but `scope`."""
        if (owner, scope) not in self._lacking:
            scopes = [s for s in ALL_SCOPES if s != scope]
            text = token_create(user=self.cast[owner], name=f"no {scope}", scopes=scopes)[1]
            self._lacking[(owner, scope)] = Api(text)
        return self._lacking[(owner, scope)]


def openapi() -> dict[str, Any]:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(
            f"{method.upper()} {path.removeprefix(PREFIX)}",
            method.upper(),
            path.removeprefix(PREFIX),
            spec,
        )
        for path, ops in document["paths"].items()
        for method, spec in ops.items()
    ]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref") or next(
        (s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None
    )
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def plausible(name: str, schema: dict[str, Any], world: World) -> Any:
    """A value the schema of field `name` takes, or `LookupError`."""
    if name in PLAUSIBLE:
        value = PLAUSIBLE[name]
        return world.objects[value.key].id if isinstance(value, Ref) else value
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    if "null" in kinds:
        return None
    for kind, value in (("string", "checked"), ("integer", 100), ("boolean", False)):
        if kind in kinds:
            return value
    raise LookupError(f"{name}: no plausible value for {schema}")


def request_body(document: dict[str, Any], op: Operation, world: World) -> tuple[bytes, str] | None:
    """The minimal valid body of `op` (its schema's required fields) and its content type."""
    if op.name in BODIES:
        return json.dumps(BODIES[op.name]).encode(), "application/json"
    content = op.spec.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = resolved(document, content["application/json"]["schema"])
        properties = schema.get("properties", {})
        body = {
            name: plausible(name, properties[name], world) for name in schema.get("required", [])
        }
        return json.dumps(body).encode(), "application/json"
    if "multipart/form-data" in content:
        schema = content["multipart/form-data"]["schema"]
        parts = []
        for name, prop in schema["properties"].items():
            if prop.get("format") == "binary" or prop.get("items", {}).get("format") == "binary":
                parts.append(
                    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                    f'filename="upload.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
                    + PNG
                    + f"isolation {op.name}".encode()
                    + b"\r\n"
                )
            elif prop.get("type") == "string":
                parts.append(
                    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"Checked.\r\n".encode()
                )
        body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
        return body, f"multipart/form-data; boundary={BOUNDARY}"
    return None


@dataclass
class Answer:
    status: int
    code: str | None
    body: Any
    required_scope: str | None

    @property
    def got(self) -> tuple[int, str | None]:
        return (self.status, self.code)

    def __str__(self) -> str:
        return f"{self.got} {str(self.body)[:200]}"


def hint(answer: Answer) -> str:
    if answer.got == DENIED:
        return " (staff's route? list it in STAFF_ONLY; an agent's own kind? AGENTS_ONLY)"
    if 200 <= answer.status < 300:
        return " (a leak: narrow the route's queryset to what the caller may see)"
    return ""


def call(api: Api, op: Operation, path: str, body: tuple[bytes, str] | None) -> Answer:
    """`op` on `path` as `api`'s account, in a savepoint rolled back afterwards."""
    data, content_type = body if body is not None else (b"", "")
    with transaction.atomic():
        response = api.client.generic(
            op.method, PREFIX + path, data, content_type=content_type, **api.headers
        )
        transaction.set_rollback(True)
    if response.streaming:  # a file download: read to its end, which closes it as a client does
        b"".join(response.streaming_content)
        return Answer(response.status_code, None, None, None)
    parsed = response.json() if response.content else None
    if isinstance(parsed, dict):
        parsed.pop("request_id", None)  # each request's own: not part of what is compared
    problem = parsed if response["Content-Type"] == PROBLEM else {}
    return Answer(response.status_code, problem.get("code"), parsed, problem.get("required_scope"))


def filled(op: Operation, ids: dict[str, str]) -> str:
    path = op.template
    for param, value in ids.items():
        segment, placeholder = param.split("/", 1)
        path = path.replace(f"{segment}/{placeholder}", f"{segment}/{value}")
    return path


@pytest.fixture
def world(
    alice: User,
    carol: User,
    dave: User,
    erin: User,
    frank: User,
    staff: User,
    product: Product,
    settings: Any,
) -> World:
    settings.STRIPE_API_KEY = ""  # a checkout that gets through never leaves the machine
    cast = {"alice": alice, "carol": carol, "dave": dave, "erin": erin, "frank": frank}
    return World({**cast, "staff": staff}, product)


def refusals(op: Operation, caller: User) -> set[tuple[int, str | None]]:
    """What a foreign `caller` may be answered on `op`."""
    if op.name in STAFF_ONLY:
        return {DENIED, NOT_FOUND}
    if op.name in AGENTS_ONLY and caller.kind == User.Kind.CUSTOMER:
        return {DENIED}
    return {NOT_FOUND}


def foreign_checks(
    op: Operation, world: World, body: tuple[bytes, str] | None, ids: dict[str, str]
) -> list[str]:
    """erin and frank on the objects `ids`, and with their own outer object if they have
    one: each refused as `op`'s kind says, with the made-up ids' very answer."""
    mismatches = []
    for caller in ("erin", "frank"):
        api = world.apis[caller]
        tries = [(ids, list(ids))]
        own = OWN_OBJECTS[caller].get(op.params[0])
        if len(op.params) > 1 and own is not None:
            mixed = {**ids, op.params[0]: world.objects[own].id}
            tries.append((mixed, op.params[1:]))
        for tried, foreign in tries:
            path = filled(op, tried)
            answer = call(api, op, path, body)
            allowed = refusals(op, world.cast[caller])
            made_up = call(
                api, op, filled(op, {**tried, **dict.fromkeys(foreign, MADE_UP_ID)}), body
            )
            if answer.got not in allowed:
                mismatches.append(
                    f"{op.name} as {caller} on {path}: got {answer}, expected one of "
                    f"{sorted(allowed)}{hint(answer)}"
                )
            elif (made_up.status, made_up.body) != (answer.status, answer.body):
                mismatches.append(
                    f"{op.name} as {caller} on {path}: {answer}, but a made-up id gets "
                    f"{made_up}: the answer tells that the object exists"
                )
    return mismatches


def shared_checks(
    op: Operation, world: World, body: tuple[bytes, str] | None, path: str
) -> list[str]:
    """A shared route does get erin and frank through: else it is no longer shared."""
    mismatches = []
    for caller in ("erin", "frank"):
        answer = call(world.apis[caller], op, path, body)
        if not 200 <= answer.status < 300:
            mismatches.append(
                f"{op.name} as {caller} on {path}: got {answer}; SHARED says "
                "every signed-in account gets through: move the route to its own kind"
            )
    return mismatches


def test_every_route_with_an_id_refuses_other_agents_their_customers_and_missing_scopes(
    world: World,
) -> None:
    document = openapi()
    mismatches: list[str] = []
    checked = 0
    for op in operations(document):
        if op.name in PUBLIC or not op.params:
            continue
        unmapped = [p for p in op.params if p not in OBJECTS]
        if unmapped:
            mismatches.append(
                f"{op.name}: no object for {', '.join(unmapped)}; add a line to OBJECTS in "
                f"{__name__} (and build the object in World), and one to STAFF_ONLY, "
                "AGENTS_ONLY, SHARED or PUBLIC unless the route is the caller's own object"
            )
            continue
        try:
            body = request_body(document, op, world)
        except LookupError as exc:
            mismatches.append(f"{op.name}: {exc}; add the route's body to BODIES")
            continue
        for keys in itertools.product(*(OBJECTS[p] for p in op.params)):
            objs = [world.objects[key] for key in keys]
            ids = {p: o.id for p, o in zip(op.params, objs, strict=True)}
            path = filled(op, ids)
            owner = "staff" if op.name in STAFF_ONLY else objs[0].owner
            checked += 1

            # The owner's side reaches the object: the ids are right, the refusals mean it.
            mine = call(world.apis[owner], op, path, body)
            if mine.got == NOT_FOUND or mine.status == 500:
                mismatches.append(
                    f"{op.name} as its owner {owner} on {path}: got {mine}; "
                    "the object built for it is not the route's (fix OBJECTS or World)"
                )

            needed = route_scope(op.method, op.template)
            if needed is None:
                mismatches.append(
                    f"{op.name}: no scope lets a token call it; give its resource one in "
                    "licensary/accounts/scopes.py"
                )
            else:
                scoped = call(world.lacking(owner, needed), op, path, body)
                if scoped.got != DENIED or scoped.required_scope != needed:
                    mismatches.append(
                        f"{op.name} as {owner} without the {needed} scope on {path}: got "
                        f"{scoped}, expected {DENIED} naming {needed}"
                    )

            if op.name in SHARED:
                mismatches += shared_checks(op, world, body, path)
            else:
                mismatches += foreign_checks(op, world, body, ids)
    assert mismatches == [], f"{len(mismatches)} ({checked} routes x ids):\n" + "\n".join(
        mismatches
    )


def test_an_id_in_a_body_is_refused_to_other_agents_and_their_customers(world: World) -> None:
    document = openapi()
    ops = {op.name: op for op in operations(document)}
    mismatches: list[str] = []
    for (name, field), (key, rest) in BODY_IDS.items():
        op = ops[name]
        values = {k: world.objects[v.key].id if isinstance(v, Ref) else v for k, v in rest.items()}

        def body(value: str, values: dict[str, Any] = values, field: str = field) -> Any:
            return json.dumps({**values, field: value}).encode(), "application/json"

        obj = world.objects[key]
        mine = call(world.apis[obj.owner], op, op.template, body(obj.id))
        if mine.got == NOT_FOUND or mine.status == 500:
            mismatches.append(
                f"{name} {field}={key} as its owner {obj.owner}: got {mine}; the object is not "
                "the field's (fix BODY_IDS)"
            )
        for caller in ("erin", "frank"):
            answer = call(world.apis[caller], op, op.template, body(obj.id))
            made_up = call(world.apis[caller], op, op.template, body(MADE_UP_ID))
            if answer.got != NOT_FOUND:
                mismatches.append(
                    f"{name} {field}={key} as {caller}: got {answer}, expected {NOT_FOUND}"
                    f"{hint(answer)}"
                )
            elif (made_up.status, made_up.body) != (answer.status, answer.body):
                mismatches.append(
                    f"{name} {field}={key} as {caller}: {answer}, but a made-up id gets "
                    f"{made_up}: the answer tells that the object exists"
                )
    assert mismatches == [], "\n".join(mismatches)


def test_every_body_field_that_names_an_object_is_checked_or_says_why_not(db: Any) -> None:
    document = openapi()
    ops = operations(document)
    kinds = {p.rsplit("{", 1)[1].removesuffix("_id}") for op in ops for p in op.params}
    fields = set()
    for op in ops:
        content = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
        if content is not None:
            properties = resolved(document, content["schema"]).get("properties", {})
            fields |= {(op.name, field) for field in properties if field in kinds}

    assert sorted(fields - set(BODY_IDS) - set(BODY_IDS_EXEMPT)) == [], (
        "body fields naming an object: add each to BODY_IDS (or BODY_IDS_EXEMPT, why)"
    )
    assert sorted((set(BODY_IDS) | set(BODY_IDS_EXEMPT)) - fields) == [], "stale BODY_IDS lines"


def test_the_routes_without_a_token_are_exactly_the_allow_list(db: Any) -> None:
    public = {op.name for op in operations(openapi()) if not op.spec.get("security")}

    assert sorted(public - set(PUBLIC)) == [], "routes without a token: add each to PUBLIC, why"
    assert sorted(set(PUBLIC) - public) == [], "PUBLIC names routes that ask for a token"
    assert all(reason.strip() for reason in PUBLIC.values())


def test_every_line_of_the_tables_names_a_served_route(db: Any) -> None:
    ops = operations(openapi())
    names = {op.name for op in ops}
    params = {param for op in ops for param in op.params}

    for table in (STAFF_ONLY, AGENTS_ONLY, set(SHARED), set(BODIES)):
        assert sorted(set(table) - names) == [], "remove the lines of routes no longer served"
    assert sorted(set(OBJECTS) - params) == [], "remove the parameters no longer served"
    assert STAFF_ONLY.isdisjoint(AGENTS_ONLY) and STAFF_ONLY.isdisjoint(SHARED)
