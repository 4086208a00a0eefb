"""Answering a licensed server: one signed document saying what its license is now."""

import threading
import time
from datetime import datetime

from django.utils import timezone

from licensary.catalog.models import Product
from licensary.core.db import utc_text
from licensary.core.errors import NotFound, ValidationFailed
from licensary.core.metrics import verification_answered
from licensary.licenses.models import License
from licensary.licenses.rules import effective_status
from licensary.verification.keys import canonical_json, signer_at, signer_cache_clear

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


LOOKUP = (
    "SELECT id, kind, status, period_end, blocked_at, renewable_until "
    "FROM licenses_license WHERE product_id = %s AND ip = %s AND status <> 'deleted' "
    "LIMIT 1"
)  # at most one live license per (product, ip): the partial unique index


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
    # A fixed statement: building the ORM query cost as much as running it (bench/verify.sh).
    lic = next(iter(License.objects.raw(LOOKUP, [product_id, ip])), None)
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
    """Forget the per-process product and key caches (after tests reset the database)."""
    product_cache.clear()
    signer_cache_clear()
