"""Creating, rotating and retiring the signing keys; signing documents."""

import base64
import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts.models import User
from licensary.audit.services import Change, audit_record
from licensary.core.crypto import seal, unseal
from licensary.core.errors import InvalidTransition, NotFound
from licensary.verification.models import SigningKey

CACHE_SECONDS = 30.0


def _new_key_row(status: str) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(serialization.Encoding.Raw,
                                        serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    return SigningKey.objects.create(
        key_id=f"k{timezone.now():%Y%m%d}{secrets.token_hex(4)}",
        public_key=base64.b64encode(raw_public).decode(),
        private_key_encrypted=seal(b"signing-keys", raw_private),
        status=status, created_at=timezone.now(),
    )


def keys_ensure() -> SigningKey:
    """The active key, created on first use."""
    key = SigningKey.objects.filter(status=SigningKey.Status.ACTIVE).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            key = _new_key_row(SigningKey.Status.ACTIVE)
            audit_record(Change(action="key.created", object_type="signing_key",
                                object_id=key.key_id, actor_label="system"))
            return key
    except IntegrityError:  # another process created it first
        return SigningKey.objects.get(status=SigningKey.Status.ACTIVE)


def keys_rotate(*, actor: User | None = None) -> SigningKey:
    """A new active key; the old one stays published until retired."""
    with transaction.atomic():
        old = list(SigningKey.objects.select_for_update().filter(status=SigningKey.Status.ACTIVE))
        SigningKey.objects.filter(pk__in=[k.pk for k in old]).update(
            status=SigningKey.Status.PUBLISHED)
        key = _new_key_row(SigningKey.Status.ACTIVE)
        audit_record(Change(action="key.rotated", object_type="signing_key",
                            object_id=key.key_id, actor=actor,
                            actor_label="" if actor else "cli",
                            before={"active": [k.key_id for k in old]},
                            after={"active": key.key_id}))
    _signer_cache.clear()
    return key


def keys_retire(*, key_id: str, actor: User | None = None) -> SigningKey:
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(key_id=key_id).first()
        if key is None:
            raise NotFound(f"No key {key_id}.")
        if key.status == SigningKey.Status.ACTIVE:
            raise InvalidTransition("Rotate first: the active key cannot be retired.")
        if key.status == SigningKey.Status.RETIRED:
            return key
        SigningKey.objects.filter(pk=key.pk).update(status=SigningKey.Status.RETIRED,
                                                    retired_at=timezone.now())
        audit_record(Change(action="key.retired", object_type="signing_key", object_id=key_id,
                            actor=actor, actor_label="" if actor else "cli",
                            before={"status": key.status}, after={"status": "retired"}))
    key.refresh_from_db()
    return key


def keys_published() -> list[SigningKey]:
    keys_ensure()  # a client may ask for the keys before the first document is signed
    return list(SigningKey.objects.exclude(status=SigningKey.Status.RETIRED))


@dataclass(frozen=True)
class Signer:
    key_id: str
    private: Ed25519PrivateKey

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private.sign(payload)).decode()


class _SignerCache:
    """The active key, decrypted once per process and re-read every 30 s (rotation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signer: Signer | None = None
        self._loaded = 0.0

    def clear(self) -> None:
        with self._lock:
            self._signer = None

    def get(self) -> Signer:
        with self._lock:
            if self._signer is None or time.monotonic() - self._loaded > CACHE_SECONDS:
                key = keys_ensure()
                raw = unseal(b"signing-keys", key.private_key_encrypted)
                self._signer = Signer(key.key_id, Ed25519PrivateKey.from_private_bytes(raw))
                self._loaded = time.monotonic()
            return self._signer


_signer_cache = _SignerCache()


def active_signer() -> Signer:
    return _signer_cache.get()
