"""The verify throttle: at most `LICENSARY_VERIFY_RATE` requests a window from one address, an
IPv6 client counted by its /64 (RELIABILITY "Verification"). The Django view and the fast path
(`verification/fastpath.py`) both ask `verify_throttled`, so they count alike.

Where the cache is this process's own memory (the default) the counts are kept in a dict here:
the same fixed windows django-ratelimit keeps, without its per-call key hashing and the local
cache's pickling (66 us a call, PERFORMANCE.md) and without its culling at 300 entries, which
forgets busy addresses. With `LICENSARY_CACHE_URL` (Redis) the counts are shared between
processes through django-ratelimit, as before.
"""

import re
import socket
import threading
import time
import zlib
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_ratelimit.core import is_ratelimited

_RATE = re.compile(r"^(\d+)/(\d*)([smhd])?$")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SWEEP_AT = 100_000  # entries before the expired windows are dropped


def throttle_bucket(ip: str) -> str:
    """Whom the verify limit counts: an IPv4 address, or the /64 of an IPv6 one (a subscriber
    is usually handed a whole /64, so counting addresses would give it 2**64 budgets)."""
    if ":" not in ip:
        return ip
    try:
        # inet_pton, not ipaddress.IPv6Network: ~1.5 us against ~60 us on the hot path
        return socket.inet_pton(socket.AF_INET6, ip)[:8].hex() + "/64"
    except (OSError, ValueError):
        return ip


@lru_cache(maxsize=16)
def rate_of(rate: str) -> tuple[int, int]:
    """`120/m`, `5/10m`, `1000000/m` (django-ratelimit's spelling) -> (count, seconds)."""
    match = _RATE.match(rate.strip())
    if match is None:
        raise ImproperlyConfigured(f"LICENSARY_VERIFY_RATE {rate!r} is not like 120/m.")
    count, multiplier, unit = match.groups()
    return int(count), _PERIODS[unit or "s"] * int(multiplier or 1)


def _window_end(bucket: str, period: int, now: int) -> int:
    """django-ratelimit's windows: fixed, each key's shifted by its crc32 so that they do not
    all end at one instant."""
    if period == 1:
        return now
    end = now - now % period + zlib.crc32(bucket.encode()) % period
    return end + period if end < now else end


class _LocalCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # bucket -> [window end, count]

    def hit(self, bucket: str, limit: int, period: int) -> bool:
        now = int(time.time())
        with self._lock:
            entry = self._counts.get(bucket)
            if entry is None or entry[0] < now:
                if len(self._counts) >= _SWEEP_AT:
                    self._counts = {b: e for b, e in self._counts.items() if e[0] >= now}
                self._counts[bucket] = [_window_end(bucket, period, now), 1]
                return limit < 1
            entry[1] += 1
            return entry[1] > limit

    def clear(self) -> None:
        with self._lock:
            self._counts = {}


_local = _LocalCounts()


def _shared_cache() -> bool:
    return "LocMemCache" not in settings.CACHES["default"]["BACKEND"]


def verify_throttled(ip: str) -> bool:
    """Count one verification from `ip`; True when it is over the limit (answer 429)."""
    limit, period = rate_of(settings.LICENSARY["VERIFY_RATE"])
    bucket = throttle_bucket(ip)
    if _shared_cache():
        return bool(
            is_ratelimited(
                None,  # the request is only read by keys we do not use
                group="verify",
                key=lambda group, request: bucket,
                increment=True,
                rate=f"{limit}/{period}s",
            )
        )
    return _local.hit(bucket, limit, period)


def throttle_clear() -> None:
    """Forget this process's counts (tests)."""
    _local.clear()
