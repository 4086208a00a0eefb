"""POST /api/v1/verify: signed, tamper-evident answers about the caller's own IP."""

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from licensary.billing.services import invoice_pay_with_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.services import order_create
from tests.helpers import OTHER_IP, PUBLIC_IP, give_credit, run_jobs

NONCE = "n" * 24


def licensed(alice, product, staff, ip=PUBLIC_IP) -> License:
    give_credit(alice, product.price + product.setup_fee, staff)
    order = order_create(actor=alice, product=product, ip=ip)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    return License.objects.get(ip=ip, product=product)


def ask(product="panel", nonce=NONCE, ip=PUBLIC_IP, **headers):
    return Client().post(
        "/api/v1/verify",
        data=json.dumps({"product": product, "nonce": nonce}),
        content_type="application/json",
        REMOTE_ADDR=ip,
        **headers,
    )


def public_keys():
    keys = Client().get("/api/v1/verify/keys").json()["keys"]
    return {
        k["key_id"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"]))
        for k in keys
    }


def verified(answer: dict) -> dict:
    public_keys()[answer["key_id"]].verify(
        base64.b64decode(answer["signature"]), answer["document"].encode()
    )
    return json.loads(answer["document"])


def test_active_license_gets_a_signed_canonical_document(alice, product, staff):
    lic = licensed(alice, product, staff)

    answer = ask().json()

    document = verified(answer)
    assert document == {
        "license": str(lic.pk),
        "product": "panel",
        "kind": "own",
        "ip": PUBLIC_IP,
        "status": "active",
        "valid_until": lic.period_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "issued_at": document["issued_at"],
        "nonce": NONCE,
    }
    assert answer["document"] == json.dumps(document, sort_keys=True, separators=(",", ":"))


def test_any_changed_byte_breaks_the_signature(alice, product, staff):
    licensed(alice, product, staff)
    answer = ask().json()
    key = public_keys()[answer["key_id"]]
    signature = base64.b64decode(answer["signature"])
    raw = answer["document"].encode()
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidSignature):
            key.verify(signature, bytes(tampered))


def test_no_license_is_a_signed_unknown(product):
    document = verified(ask(ip=OTHER_IP).json())
    assert (document["status"], document["license"], document["valid_until"]) == (
        "unknown",
        None,
        None,
    )
    assert document["ip"] == OTHER_IP


def test_blocked_license_answers_blocked_even_before_the_sweep_runs(alice, product, staff):
    lic = licensed(alice, product, staff)
    with time_machine.travel(lic.period_end - timedelta(seconds=1), tick=False):
        assert verified(ask().json())["status"] == "active"
    with time_machine.travel(lic.period_end + timedelta(seconds=1), tick=False):
        assert verified(ask().json())["status"] == "blocked"
        sweep()
        assert verified(ask().json())["status"] == "blocked"


def test_ip_comes_from_the_socket_and_spoofed_forwarding_is_ignored(alice, product, staff):
    licensed(alice, product, staff)
    spoofed = verified(ask(ip=OTHER_IP, HTTP_X_FORWARDED_FOR=PUBLIC_IP).json())
    assert (spoofed["ip"], spoofed["status"]) == (OTHER_IP, "unknown")


def test_forwarded_address_is_believed_from_a_trusted_proxy(alice, product, staff, settings):
    licensed(alice, product, staff)
    settings.LICENSARY = {**settings.LICENSARY, "TRUSTED_PROXIES": ["10.0.0.5"]}
    document = verified(ask(ip="10.0.0.5", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {PUBLIC_IP}").json())
    assert (document["ip"], document["status"]) == (PUBLIC_IP, "active")


def test_license_lookup_is_one_query(alice, product, staff):
    licensed(alice, product, staff)
    ask()  # warm the per-process product and key caches
    with CaptureQueriesContext(connection) as queries:
        assert ask().status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]


@pytest.mark.parametrize("nonce", [None, "", "short", "x" * 129, 12345678901234567])
def test_missing_short_or_oversized_nonce_is_refused(product, nonce):
    body = {"product": "panel"} if nonce is None else {"product": "panel", "nonce": nonce}
    answer = Client().post(
        "/api/v1/verify",
        data=json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=PUBLIC_IP,
    )
    assert answer.status_code == 422
    assert answer.json()["code"] in {"validation_error", "invalid_nonce"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nonce", "n" * 20 + "\ud800"),
        ("nonce", "\udfff" * 20),
        ("nonce", "n" * 20 + "\x00"),
        ("nonce", "n" * 20 + "\x1b[2J"),
        ("nonce", "n" * 20 + "\x7f"),
        ("nonce", "n" * 20 + "\x85"),
        ("product", "pan\ud800el"),
        ("product", "pa\x00nel"),
        ("product", "panel\n"),
        ("product", "p" * 65),
        ("product", "p" * 100_000),
    ],
)
def test_verify_refuses_lone_surrogates_control_characters_and_oversized_text(
    product, field, value
):
    body = {"product": "panel", "nonce": NONCE, field: value}
    answer = Client().post(
        "/api/v1/verify",
        data=json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=PUBLIC_IP,
    )
    assert (answer.status_code, answer["Content-Type"]) == (422, "application/problem+json")
    problem = answer.json()
    assert problem["code"] == "validation_error"
    assert problem["detail"].startswith(f"payload.{field}: ")
    assert len(answer.content) < 2000  # the refused text is not echoed back


def test_unknown_product_is_not_found(product):
    answer = ask(product="nope")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_more_than_the_per_ip_limit_is_429_never_5xx(product, settings):
    settings.LICENSARY = {**settings.LICENSARY, "VERIFY_RATE": "5/m"}
    codes = [ask().status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    assert ask().json()["code"] == "rate_limited"
    assert ask(ip=OTHER_IP).status_code == 200  # the limit is per address
    assert ask(ip="93.184.216.35").status_code == 200  # IPv4: the address, not its network


def test_verify_throttle_limits_an_ipv6_client_by_its_64(product, settings):
    # One subscriber is handed a whole /64; counting each address would give it 2**64 budgets.
    settings.LICENSARY = {**settings.LICENSARY, "VERIFY_RATE": "3/m"}
    alice_a, alice_b = "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"

    assert [ask(ip=ip).status_code for ip in (alice_a, alice_b, alice_a)] == [200, 200, 200]
    assert ask(ip=alice_b).json()["code"] == "rate_limited"
    bob = ask(ip="2001:db8:1:3::1")  # the next /64 is someone else
    assert bob.status_code == 200
    assert verified(bob.json())["ip"] == "2001:db8:1:3::1"  # the document names the address
