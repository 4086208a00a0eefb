"""Creating, rotating and retiring the signing keys; signing documents.

Rotation is staged (API.md "key rotation"): `keys_rotate` publishes the next key at once with an
`activates_at` one notice period later, and the choice of signer is made at signing time by
comparing `activates_at` with the clock. So every process switches at the same instant: the
per-process cache below may hold the key rows for 30 s, but never the choice of signer.
"""

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from licensary.accounts.models import User
from licensary.core.crypto import seal, unseal
from licensary.core.db import utc_text
from licensary.core.errors import InvalidTransition, NotFound
from licensary.verification import events as key_events
from licensary.verification.models import SigningKey

CACHE_SECONDS = 30.0
ACTIVE, NEXT, RETIRING, RETIRED = "active", "next", "retiring", "retired"


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: object) -> str:
    """Sorted keys, no spaces, UTF-8: the exact text that is signed (`json.dumps` with these
    options, from one encoder rather than a new one per call)."""
    return _CANONICAL.encode(data)


def _new_key_row(*, generation: int, activates_at: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    now = timezone.now()
    return SigningKey.objects.create(
        key_id=f"k{now:%Y%m%d}{secrets.token_hex(4)}",
        generation=generation,
        public_key=base64.b64encode(raw_public).decode(),
        private_key_encrypted=seal(b"signing-keys", raw_private),
        created_at=now,
        activates_at=activates_at,
    )


def signer_of(keys: list[SigningKey], now: datetime) -> SigningKey | None:
    """The key that signs at `now`: the newest generation whose activates_at has come."""
    due = [k for k in keys if k.retired_at is None and k.activates_at <= now]
    return max(due, key=lambda k: k.generation, default=None)


def key_status(key: SigningKey, signer: SigningKey | None, now: datetime) -> str:
    if key.retired_at is not None:
        return RETIRED
    if signer is not None and key.pk == signer.pk:
        return ACTIVE
    return NEXT if key.activates_at > now else RETIRING


def keys_ensure() -> None:
    """Make the first key on first use; a key not retired always exists after it."""
    if SigningKey.objects.filter(retired_at__isnull=True).exists():
        return
    try:
        with transaction.atomic():
            key = _new_key_row(generation=1, activates_at=timezone.now())
            key_events.key_created(key)
    except IntegrityError:  # another process made the first key at the same time
        pass


def keys_rotate(*, now: bool = False, actor: User | None = None) -> SigningKey:
    """Publish the next key, signing from `LICENSARY_KEY_NOTICE_HOURS` later; the current key is
    `retiring` from then on until retired.

    `now=True` is for a compromised key: the new key signs at once and every other key is
    retired in the same transaction, because a key list or document signed by a leaked key
    proves nothing. Clients that trusted only those keys cannot follow on their own and must be
    given the new key (see the client's README).
    """
    keys_ensure()
    with transaction.atomic():
        # Wait for a rotation running at the same time, then read again: the locking read
        # cannot see the key that rotation added, and would let both publish a `next` key.
        list(SigningKey.objects.select_for_update().filter(retired_at__isnull=True))
        live = list(SigningKey.objects.filter(retired_at__isnull=True))
        moment = timezone.now()
        signing = signer_of(live, moment)
        pending = [k for k in live if k.activates_at > moment]
        if pending and not now:
            raise InvalidTransition(
                f"Key {pending[0].key_id} is already next; it signs from "
                f"{utc_text(pending[0].activates_at)}. Rotate again after that, or use --now if "
                "a key is compromised."
            )
        generation = (SigningKey.objects.aggregate(top=Max("generation"))["top"] or 0) + 1
        if now:
            key = _new_key_row(generation=generation, activates_at=moment)
            SigningKey.objects.filter(pk__in=[k.pk for k in live]).update(
                retired_at=moment, private_key_encrypted=""
            )
        else:
            notice = timedelta(hours=settings.LICENSARY["KEY_NOTICE_HOURS"])
            if notice <= timedelta(0):
                # Zero would sign before any client or any server process's key cache (30 s)
                # could have seen the key; `--now` is the one way to sign at once.
                raise ImproperlyConfigured(
                    "LICENSARY_KEY_NOTICE_HOURS must be at least 1: a "
                    "key must be published before it signs (use "
                    "`keys rotate --now` for a compromised key)."
                )
            key = _new_key_row(
                generation=generation, activates_at=(moment + notice).replace(microsecond=0)
            )
        key_events.key_rotated(
            key, signing_before=signing, retired=live if now else None, actor=actor
        )
    # Only this process learns of it at once; the others within CACHE_SECONDS, which is long
    # before a staged key activates. (--now: see the command's message.)
    _signer_cache.clear()
    _listing_cache.clear()
    return key


def keys_retire(*, key_id: str, actor: User | None = None) -> SigningKey:
    """Stop publishing and trusting a `retiring` key, and wipe its private half."""
    with transaction.atomic():
        moment = timezone.now()
        live = list(SigningKey.objects.select_for_update().filter(retired_at__isnull=True))
        key = next((k for k in live if k.key_id == key_id), None)
        if key is None:
            retired = SigningKey.objects.filter(key_id=key_id).first()
            if retired is None:
                raise NotFound(f"No key {key_id}.")
            return retired
        status = key_status(key, signer_of(live, moment), moment)
        if status == ACTIVE:
            pending = [k for k in live if k.activates_at > moment]
            when = (
                f"once {pending[0].key_id} signs, from {utc_text(pending[0].activates_at)}"
                if pending
                else "once a rotation's next key signs"
            )
            raise InvalidTransition(f"Key {key_id} signs now: it can be retired {when}.")
        if status == NEXT:
            raise InvalidTransition(
                f"Key {key_id} signs from {utc_text(key.activates_at)}; "
                "only a retiring key can be retired."
            )
        SigningKey.objects.filter(pk=key.pk).update(retired_at=moment, private_key_encrypted="")
        key_events.key_retired(key, was=status, actor=actor)
    _listing_cache.clear()
    key.refresh_from_db()
    return key


def keys_published(now: datetime | None = None) -> list[tuple[SigningKey, str]]:
    """Every key not retired, oldest first, with its status at `now`."""
    keys_ensure()  # a client may ask for the keys before the first document is signed
    now = now or timezone.now()
    keys = list(SigningKey.objects.filter(retired_at__isnull=True))
    signer = signer_of(keys, now)
    return [(k, key_status(k, signer, now)) for k in keys]


@dataclass(frozen=True)
class Signer:
    key_id: str
    private: Ed25519PrivateKey

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private.sign(payload)).decode()


def _decrypt(key: SigningKey) -> Signer:
    raw = unseal(b"signing-keys", key.private_key_encrypted)
    return Signer(key.key_id, Ed25519PrivateKey.from_private_bytes(raw))


class _SignerCache:
    """The keys not retired, decrypted once per process and re-read every 30 s (to learn of a
    rotation); which of them signs is decided per call from the clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (activates_at, signer), newest generation first; replaced whole, so read without lock
        self._schedule: tuple[tuple[datetime, Signer], ...] = ()
        self._loaded = 0.0

    def clear(self) -> None:
        with self._lock:
            self._schedule = ()

    def _reload(self) -> tuple[tuple[datetime, Signer], ...]:
        with self._lock:
            if self._schedule and time.monotonic() - self._loaded <= CACHE_SECONDS:
                return self._schedule  # another thread reloaded while this one waited
            keys = list(SigningKey.objects.filter(retired_at__isnull=True).order_by("-generation"))
            if not keys:
                keys_ensure()
                keys = list(
                    SigningKey.objects.filter(retired_at__isnull=True).order_by("-generation")
                )
            known = {s.key_id: s for _, s in self._schedule}
            self._schedule = tuple(
                (k.activates_at, known.get(k.key_id) or _decrypt(k)) for k in keys
            )
            self._loaded = time.monotonic()
            return self._schedule

    def at(self, now: datetime) -> Signer:
        schedule = self._schedule
        if not schedule or time.monotonic() - self._loaded > CACHE_SECONDS:
            schedule = self._reload()
        for activates_at, signer in schedule:
            if activates_at <= now:
                return signer
        return schedule[-1][1]  # a clock behind the first key's creation: the oldest key

    def signer(self, key_id: str) -> Signer | None:
        return next((s for _, s in self._schedule if s.key_id == key_id), None)


_signer_cache = _SignerCache()


def signer_at(now: datetime) -> Signer:
    """The signer for a document issued at `now` (the hot path: no query while cached)."""
    return _signer_cache.at(now)


def signer_cache_clear() -> None:
    _signer_cache.clear()


def _listing_of(published: list[tuple[SigningKey, str]]) -> dict[str, object]:
    keys = [
        {
            "key_id": k.key_id,
            "algorithm": "Ed25519",
            "public_key": k.public_key,
            "status": status,
            "activates_at": utc_text(k.activates_at),
            "created_at": utc_text(k.created_at),
        }
        for k, status in published
    ]
    document = canonical_json(keys)
    payload = document.encode()
    signatures = []
    for key, _ in published:
        signer = _signer_cache.signer(key.key_id) or _decrypt(key)
        signatures.append({"key_id": key.key_id, "signature": signer.sign(payload)})
    return {"keys": keys, "document": document, "signatures": signatures}


class _ListingCache:
    """The published key rows, re-read every CACHE_SECONDS like the signer's (a rotation made
    by another process is listed within that, long before its key signs); the statuses are
    worked out from the clock at every call, and the signed listing is kept per set of
    statuses (Ed25519 signatures are deterministic: a kept listing is byte for byte the one
    made again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: tuple[SigningKey, ...] = ()
        self._loaded = 0.0
        self._made: dict[tuple[str, ...], tuple[dict[str, object], bytes]] = {}

    def clear(self) -> None:
        with self._lock:
            self._keys, self._made = (), {}

    def _rows(self) -> tuple[SigningKey, ...]:
        keys = self._keys
        if keys and time.monotonic() - self._loaded <= CACHE_SECONDS:
            return keys
        with self._lock:
            if not self._keys or time.monotonic() - self._loaded > CACHE_SECONDS:
                keys_ensure()  # a client may ask for the keys before the first document
                self._keys = tuple(SigningKey.objects.filter(retired_at__isnull=True))
                self._made = {}
                self._loaded = time.monotonic()
            return self._keys

    def at(self, now: datetime | None) -> tuple[dict[str, object], bytes]:
        keys = self._rows()
        now = now or timezone.now()  # after the rows: a key made by them has come into force
        signer = signer_of(list(keys), now)
        statuses = tuple(key_status(k, signer, now) for k in keys)
        made = self._made.get(statuses)
        if made is None:
            listing = _listing_of(list(zip(keys, statuses, strict=True)))
            made = (listing, json.dumps(listing).encode())
            self._made[statuses] = made
        return made


_listing_cache = _ListingCache()


def keys_listing(now: datetime | None = None) -> dict[str, object]:
    """The body of GET /api/v1/verify/keys: the published keys, their canonical JSON text as
    `document`, and a signature over it by each of them (so the current key vouches for the
    next one and a client can follow the rotation)."""
    return _listing_cache.at(now)[0]


def keys_listing_json(now: datetime | None = None) -> bytes:
    """`keys_listing` as the JSON bytes answered (what `JsonResponse` makes of it)."""
    return _listing_cache.at(now)[1]


def keys_listing_clear() -> None:
    _listing_cache.clear()
