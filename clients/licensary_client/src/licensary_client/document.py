"""The signed verification document: canonical form, public keys and signature checks.

This module is pure (no network, no disk) so that the same checks apply to a document fresh from
the server and to the copy cached on disk.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "DOCUMENT_FIELDS",
    "KINDS",
    "STATUSES",
    "BadSignature",
    "MalformedDocument",
    "MalformedKeys",
    "UnknownKey",
    "UntrustedKeys",
    "VerificationError",
    "canonical_json",
    "format_timestamp",
    "load_public_keys",
    "parse_timestamp",
    "verify_document",
    "verify_key_listing",
]

DOCUMENT_FIELDS = frozenset(
    {"license", "product", "kind", "ip", "status", "valid_until", "issued_at", "nonce"}
)
KINDS = frozenset({"own", "manufacturer"})
STATUSES = frozenset({"active", "blocked", "canceled", "deleted", "unknown"})
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32

# Only whole seconds, milliseconds or microseconds with a literal "Z": one spelling per instant,
# which keeps the canonical text stable and sidesteps local-time ambiguity.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?Z")


class VerificationError(Exception):
    """A document that must not be believed. `code` is a stable machine-readable reason."""

    code = "invalid"


class UnknownKey(VerificationError):
    """The document names a key the client does not trust."""

    code = "unknown_key"


class BadSignature(VerificationError):
    """The signature does not match the document bytes (or is not a signature at all)."""

    code = "bad_signature"


class MalformedDocument(VerificationError):
    """The signature is fine but the text is not a canonical, well-formed document."""

    code = "malformed_document"


class UntrustedKeys(VerificationError):
    """A key list that no key the client trusts has signed: it must not replace the keys."""

    code = "untrusted_keys"


class MalformedKeys(ValueError):
    """A key list (from the server or a --keys file) that does not follow the format."""


def canonical_json(obj: Any) -> str:
    """The one serialisation the server signs; anything else is rejected by `verify_document`."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp such as ``2026-12-27T10:00:00Z`` into an aware datetime."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(f"not an ISO 8601 UTC timestamp ending in Z: {value!r}")
    return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """The wire spelling of an aware datetime, in whole seconds."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what} is not standard base64") from exc


def load_public_keys(listing: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """Turn the body of ``GET /api/v1/verify/keys`` (or a --keys file) into usable keys.

    Every listed Ed25519 key is trusted; keys of other algorithms are skipped so that a server
    adding a new algorithm later does not break older clients.
    """
    entries = listing.get("keys") if isinstance(listing, Mapping) else None
    if not isinstance(entries, list):
        raise MalformedKeys('expected an object with a "keys" list')
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise MalformedKeys("each key must be an object")
        key_id, public = entry.get("key_id"), entry.get("public_key")
        if not isinstance(key_id, str) or not key_id:
            raise MalformedKeys("key_id must be a non-empty string")
        if entry.get("algorithm") != "Ed25519":
            continue
        try:
            raw = _b64decode(public, f"public key {key_id!r}")
        except ValueError as exc:
            raise MalformedKeys(str(exc)) from exc
        if len(raw) != PUBLIC_KEY_BYTES:
            raise MalformedKeys(f"public key {key_id!r} must be {PUBLIC_KEY_BYTES} bytes")
        keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_key_listing(
    listing: Any, trusted: Mapping[str, Ed25519PublicKey] | None
) -> list[dict[str, Any]]:
    """The key entries of a ``GET /api/v1/verify/keys`` answer, once a trusted key vouches for it.

    The entries are read from the signed ``document`` (the canonical JSON text of the list), never
    from the unsigned ``keys`` beside it. At least one entry of ``signatures`` must be a valid
    signature over ``document`` by a key in `trusted`; signatures by other keys are ignored. With
    `trusted` None (first use, nothing trusted yet) the list must be signed by one of its own
    keys: that proves only that the server holds the key, which is all trust on first use can.
    Raises `MalformedKeys` or `UntrustedKeys`.
    """
    if not isinstance(listing, Mapping):
        raise MalformedKeys("the key list is not a JSON object")
    document, signatures = listing.get("document"), listing.get("signatures")
    if not isinstance(document, str) or not isinstance(signatures, list):
        raise MalformedKeys('the key list lacks a "document" string and a "signatures" list')
    entries: list[dict[str, Any]] | None = None
    if trusted is None:
        entries = _key_entries(document)
        trusted = load_public_keys({"keys": entries})
    try:
        payload = document.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedKeys("the key list is not valid UTF-8 text") from exc
    if not any(_signed_by(item, payload, trusted) for item in signatures):
        raise UntrustedKeys(
            f"no key this client trusts ({', '.join(sorted(trusted)) or 'none'}) signed the "
            "server's key list"
        )
    # Parsed only now: nothing reaches the JSON parser unless a trusted key signed it.
    return entries if entries is not None else _key_entries(document)


def _signed_by(item: Any, payload: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> bool:
    if not isinstance(item, Mapping) or not isinstance(item.get("key_id"), str):
        return False
    key = trusted.get(item["key_id"])
    if key is None:
        return False
    try:
        raw = _b64decode(item.get("signature"), "signature")
        key.verify(raw, payload)
    except (ValueError, InvalidSignature):
        return False
    return True


def _key_entries(document: str) -> list[dict[str, Any]]:
    try:
        entries = json.loads(document)
    except ValueError as exc:
        raise MalformedKeys("the key list's document is not JSON") from exc
    if not isinstance(entries, list) or canonical_json(entries) != document:
        raise MalformedKeys("the key list's document is not a list in canonical JSON")
    if not load_public_keys({"keys": entries}):
        raise MalformedKeys("the key list names no Ed25519 key")
    return entries


def verify_document(
    document: str, signature: str, key_id: str, keys: Mapping[str, Ed25519PublicKey]
) -> dict[str, Any]:
    """Check the signature and the shape of a verification document and return its fields.

    The signature is checked before the text is parsed, so nothing the attacker controls reaches
    the JSON parser unless the trusted key signed it. This does not check the nonce, product,
    freshness or rollback: those depend on the request and on local state (see `client.Client`).
    """
    if not isinstance(key_id, str) or key_id not in keys:
        raise UnknownKey(f"document signed with untrusted key {key_id!r}")
    if not isinstance(document, str):
        raise MalformedDocument("document must be a string")
    try:
        raw_signature = _b64decode(signature, "signature")
    except ValueError as exc:
        raise BadSignature(str(exc)) from exc
    if len(raw_signature) != SIGNATURE_BYTES:
        raise BadSignature(f"signature must be {SIGNATURE_BYTES} bytes")
    try:
        keys[key_id].verify(raw_signature, document.encode("utf-8"))
    except InvalidSignature as exc:
        raise BadSignature("signature does not match the document") from exc
    except UnicodeEncodeError as exc:  # lone surrogates cannot be what the server signed
        raise BadSignature("document is not valid UTF-8 text") from exc

    try:
        fields = json.loads(document)
    except ValueError as exc:
        raise MalformedDocument("document is not JSON") from exc
    if not isinstance(fields, dict):
        raise MalformedDocument("document is not a JSON object")
    # A signer that emits two spellings of one document would let a verifier and a logger
    # disagree about what was signed; insisting on the canonical text removes that room.
    if canonical_json(fields) != document:
        raise MalformedDocument("document is not in canonical form")
    _check_fields(fields)
    return fields


def _check_fields(fields: dict[str, Any]) -> None:
    if set(fields) != DOCUMENT_FIELDS:
        missing = sorted(DOCUMENT_FIELDS - set(fields))
        extra = sorted(set(fields) - DOCUMENT_FIELDS)
        raise MalformedDocument(f"unexpected fields: missing {missing}, extra {extra}")
    if fields["license"] is not None and not isinstance(fields["license"], str):
        raise MalformedDocument("license must be a string or null")
    for name in ("product", "ip", "nonce"):
        if not isinstance(fields[name], str) or not fields[name]:
            raise MalformedDocument(f"{name} must be a non-empty string")
    if fields["kind"] not in KINDS:
        raise MalformedDocument(f"kind must be one of {sorted(KINDS)}")
    if fields["status"] not in STATUSES:
        raise MalformedDocument(f"status must be one of {sorted(STATUSES)}")
    try:
        ipaddress.ip_address(fields["ip"])
    except ValueError as exc:
        raise MalformedDocument("ip is not an IP address") from exc
    try:
        parse_timestamp(fields["issued_at"])
        if fields["valid_until"] is not None:
            parse_timestamp(fields["valid_until"])
    except ValueError as exc:
        raise MalformedDocument(str(exc)) from exc
