"""Answering a licensed server: one signed document saying what its license is now."""

import threading
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.utils import timezone

from licensary.catalog.models import Product
from licensary.core.db import utc_text
from licensary.core.errors import NotFound, ValidationFailed
from licensary.core.metrics import verification_answered
from licensary.licenses.rules import effective_status
from licensary.verification.keys import (
    canonical_json,
    keys_listing_clear,
    signer_at,
    signer_cache_clear,
)
from licensary.verification.throttle import throttle_clear

NONCE_MIN, NONCE_MAX = 16, 128
PRODUCT_CACHE_SECONDS = 30.0


class _ProductCache:
    """slug -> (id, kind) for the products on sale, kept 30 s per process, so that the
    license lookup is the request's one query."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[int, str]] = {}
        self._loaded = 0.0

    def get(self, slug: str) -> tuple[int, str] | None:
        with self._lock:
            if time.monotonic() - self._loaded > PRODUCT_CACHE_SECONDS or slug not in self._items:
                if slug not in self._items and time.monotonic() - self._loaded < 1.0:
                    return None  # unknown slugs cannot force a query per request
                self._items = {
                    p.slug: (p.pk, p.kind) for p in Product.objects.only("pk", "slug", "kind")
                }
                self._loaded = time.monotonic()
            return self._items.get(slug)

    def clear(self) -> None:
        with self._lock:
            self._loaded = 0.0
            self._items = {}


product_cache = _ProductCache()


class LicenseRow(NamedTuple):
    """The live license of a (product, IP) as verification reads it: what the rules need
    (`licenses.rules.LifecycleFields`) and the document names."""

    pk: int
    kind: str
    status: str
    period_end: datetime
    blocked_at: datetime | None
    renewable_until: datetime | None


# At most one live license per (product, ip): the partial unique index answers it. One fixed
# statement on the driver's own cursor: building the ORM query cost as much as running it, and
# Django's cursor wrappers as much again (PERFORMANCE.md). SQLite's driver keeps it prepared in
# its statement cache; on PostgreSQL it is prepared once per connection (`prepare=True`).
LOOKUP_POSTGRES = (
    "SELECT id, kind, status, period_end, blocked_at, renewable_until FROM licenses_license "
    "WHERE product_id = %s AND ip = %s::inet AND status <> 'deleted' LIMIT 1"
)
# On SQLite the times are read as the text Django stores (naive UTC): an expression has no
# declared type, so the driver skips Django's regex-based converters for fromisoformat's C.
LOOKUP_SQLITE = (
    "SELECT id, kind, status, period_end || '', blocked_at || '', renewable_until || '' "
    "FROM licenses_license WHERE product_id = ? AND ip = ? AND status <> 'deleted' LIMIT 1"
)
# Django turns psycopg's automatic preparing off (prepare_threshold=None, for poolers); its own
# cursors bind on the client and never prepare. A threshold no query reaches prepares exactly
# the statements that ask for it: this one.
_ONLY_WHEN_ASKED = 2**31 - 1


def _utc(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def _fetch(db: Any, product_id: int, ip: str) -> LicenseRow | None:
    raw = db.connection
    if db.vendor == "postgresql":
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _ONLY_WHEN_ASKED
        with db.Database.Cursor(raw) as cursor:
            cursor.execute(LOOKUP_POSTGRES, (product_id, ip), prepare=True)
            found = cursor.fetchone()
        return LicenseRow(*found) if found else None
    row = raw.execute(LOOKUP_SQLITE, (product_id, ip)).fetchone()
    if row is None:
        return None
    pk, kind, status, period_end, blocked_at, renewable_until = row
    return LicenseRow(
        pk,
        kind,
        status,
        datetime.fromisoformat(period_end).replace(tzinfo=UTC),
        _utc(blocked_at),
        _utc(renewable_until),
    )


def live_license(product_id: int, ip: str) -> LicenseRow | None:
    """The live license of `product_id` on `ip`: one query, on this thread's persistent
    connection. A connection found broken (the database restarted) is replaced once, so the
    hot path needs no health-check round trip before each query."""
    db = connections[DEFAULT_DB_ALIAS]
    started = time.monotonic()
    if db.close_at is not None and started >= db.close_at and not db.in_atomic_block:
        # CONN_MAX_AGE, for the fast path's threads, where Django's request signals (which
        # close old connections) are not sent.
        db.close()
    for attempt in (1, 2):
        if db.connection is None:
            db.ensure_connection()
        try:
            with db.wrap_database_errors:
                found = _fetch(db, product_id, ip)
            break
        except (OperationalError, InterfaceError):
            if attempt == 2 or db.in_atomic_block:
                raise
            db.close()
    if db.queries_logged:  # DEBUG or a test counting queries: recorded like any other
        db.queries_log.append(
            {
                "sql": f"{LOOKUP_POSTGRES if db.vendor == 'postgresql' else LOOKUP_SQLITE}"
                f" -- ({product_id}, {ip!r})",
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return found


def verify_license(
    *, product: str, nonce: str, ip: str, now: datetime | None = None
) -> dict[str, str]:
    """The signed answer for `product` on `ip`; status `unknown` when there is no license."""
    if not isinstance(nonce, str) or not NONCE_MIN <= len(nonce) <= NONCE_MAX:
        raise ValidationFailed(
            f"nonce must be a string of {NONCE_MIN} to {NONCE_MAX} characters.",
            code="invalid_nonce",
            status=422,
        )
    found = product_cache.get(product) if isinstance(product, str) else None
    if found is None:
        raise NotFound(f"No product {product!r}.")
    product_id, kind = found
    now = now or timezone.now()
    lic = live_license(product_id, ip)
    status = effective_status(lic, now) if lic else "unknown"
    document = {
        "license": str(lic.pk) if lic and status != "deleted" else None,
        "product": product,
        "kind": lic.kind if lic else kind,
        "ip": ip,
        "status": status,
        "valid_until": utc_text(lic.period_end) if lic and status == "active" else None,
        "issued_at": utc_text(now),
        "nonce": nonce,
    }
    text = canonical_json(document)
    verification_answered(status=status)
    signer = signer_at(now)  # by activates_at: every process switches keys at one instant
    return {"document": text, "signature": signer.sign(text.encode()), "key_id": signer.key_id}


def verification_caches_clear() -> None:
    """Forget the per-process product and key caches and throttle counts (after tests reset
    the database)."""
    product_cache.clear()
    signer_cache_clear()
    keys_listing_clear()
    throttle_clear()
