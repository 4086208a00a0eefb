"""`verify_document` and key loading, without a network."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import canonical, public_entry, sign
from licensary_client import (
    BadSignature,
    MalformedDocument,
    MalformedKeys,
    UnknownKey,
    VerificationError,
    load_public_keys,
    parse_timestamp,
    verify_document,
)

FIELDS = {
    "license": "lic_alice_1",
    "product": "acme-panel",
    "kind": "manufacturer",
    "ip": "2001:db8::7",
    "status": "active",
    "valid_until": "2026-12-27T10:00:00Z",
    "issued_at": "2026-11-27T10:00:00Z",
    "nonce": "bob-nonce-0123456789abcdef",
}


@pytest.fixture
def alice_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keys(alice_key):
    return load_public_keys({"keys": [public_entry("k1", alice_key)]})


def test_a_well_signed_canonical_document_verifies(alice_key, keys):
    document = canonical(FIELDS)

    assert verify_document(document, sign(alice_key, document), "k1", keys) == FIELDS


def test_non_ascii_text_stays_canonical(alice_key, keys):
    document = canonical({**FIELDS, "license": "lizenz-\u00fc\u20ac"})

    assert verify_document(document, sign(alice_key, document), "k1", keys)["license"] == (
        "lizenz-\u00fc\u20ac"
    )


def test_changing_any_single_byte_breaks_the_signature(alice_key, keys):
    document = canonical(FIELDS)
    signature = sign(alice_key, document)
    raw = document.encode("utf-8")

    for index in range(len(raw)):
        changed = bytearray(raw)
        changed[index] ^= 0x01
        with pytest.raises(BadSignature):
            verify_document(changed.decode("utf-8"), signature, "k1", keys)


def test_a_changed_signature_byte_is_refused(alice_key, keys):
    document = canonical(FIELDS)
    raw = bytearray(base64.b64decode(sign(alice_key, document)))
    raw[17] ^= 0x80

    with pytest.raises(BadSignature):
        verify_document(document, base64.b64encode(bytes(raw)).decode(), "k1", keys)


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_signature_that_is_not_64_base64_bytes_is_refused(keys, signature):
    with pytest.raises(BadSignature):
        verify_document(canonical(FIELDS), signature, "k1", keys)


def test_unknown_key_id_is_refused(alice_key, keys):
    document = canonical(FIELDS)

    with pytest.raises(UnknownKey):
        verify_document(document, sign(alice_key, document), "k9", keys)


@pytest.mark.parametrize(
    "document",
    [
        json.dumps(FIELDS, sort_keys=True),  # spaces after separators
        json.dumps(FIELDS, separators=(",", ":")),  # keys not sorted
        json.dumps({**FIELDS, "license": "\u00fc"}, sort_keys=True, separators=(",", ":")),
        canonical(FIELDS) + "\n",
    ],
)
def test_signed_but_not_canonical_is_malformed(alice_key, keys, document):
    with pytest.raises(MalformedDocument, match="canonical"):
        verify_document(document, sign(alice_key, document), "k1", keys)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "paused"},
        {"kind": "borrowed"},
        {"ip": "not-an-ip"},
        {"issued_at": "2026-11-27 10:00:00"},
        {"issued_at": "2026-11-27T10:00:00+00:00"},
        {"valid_until": "tomorrow"},
        {"nonce": ""},
        {"license": 7},
        {"extra": "field"},
    ],
)
def test_signed_but_wrong_fields_are_malformed(alice_key, keys, change):
    document = canonical({**FIELDS, **change})

    with pytest.raises(MalformedDocument):
        verify_document(document, sign(alice_key, document), "k1", keys)


def test_missing_field_is_malformed(alice_key, keys):
    document = canonical({k: v for k, v in FIELDS.items() if k != "ip"})

    with pytest.raises(MalformedDocument, match="missing"):
        verify_document(document, sign(alice_key, document), "k1", keys)


def test_signed_text_that_is_not_a_json_object_is_malformed(alice_key, keys):
    for document in ["[1,2]", "hello"]:
        with pytest.raises(MalformedDocument):
            verify_document(document, sign(alice_key, document), "k1", keys)


def test_every_refusal_is_a_verification_error():
    for error in (UnknownKey, BadSignature, MalformedDocument):
        assert issubclass(error, VerificationError)
    assert {UnknownKey.code, BadSignature.code, MalformedDocument.code} == {
        "unknown_key",
        "bad_signature",
        "malformed_document",
    }


def test_key_listing_skips_other_algorithms(alice_key):
    listing = {
        "keys": [
            public_entry("k1", alice_key),
            {"key_id": "pq1", "algorithm": "ML-DSA-65", "public_key": "AAAA"},
        ]
    }

    assert list(load_public_keys(listing)) == ["k1"]


@pytest.mark.parametrize(
    "listing",
    [
        {},
        {"keys": "k1"},
        {"keys": [{"algorithm": "Ed25519", "public_key": "AAAA"}]},
        {"keys": [{"key_id": "k1", "algorithm": "Ed25519", "public_key": "AAAA"}]},
        {"keys": [{"key_id": "k1", "algorithm": "Ed25519", "public_key": "%%%"}]},
    ],
)
def test_malformed_key_listing_is_refused(listing):
    with pytest.raises(MalformedKeys):
        load_public_keys(listing)


def test_timestamps_are_utc_and_aware():
    moment = parse_timestamp("2026-12-27T10:00:00Z")

    assert moment.utcoffset().total_seconds() == 0
    assert (moment.year, moment.month, moment.day, moment.hour) == (2026, 12, 27, 10)
    assert parse_timestamp("2026-12-27T10:00:00.250Z").microsecond == 250000
