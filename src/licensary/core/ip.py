"""IP addresses: the licensed server's address, and the caller's address behind proxies."""

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from licensary.core.errors import InvalidIp


def normalize_license_ip(raw: str) -> str:
    """The canonical text of a licensable address, or `invalid_ip`."""
    try:
        address = ipaddress.ip_address(str(raw).strip())
    except ValueError as exc:
        raise InvalidIp(f"{raw!r} is not an IPv4 or IPv6 address.") from exc
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        raise InvalidIp(f"{address} cannot hold a license.")
    if not settings.LICENSARY["ALLOW_PRIVATE_IPS"] and (
        address.is_private or address.is_loopback or address.is_link_local
    ):
        raise InvalidIp(f"{address} is not a public address.")
    return str(address)


@functools.lru_cache(maxsize=4096)  # the hot path (verify) parses the same few sockets' text
def _plain(address: str) -> str:
    """`::ffff:1.2.3.4` from a dual-stack socket is the IPv4 address licenses are stored by."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def client_ip(request: HttpRequest) -> str:
    """The socket's address, or the forwarded one when the socket is a trusted proxy."""
    return client_ip_of(request.META)


def client_ip_of(meta: Mapping[str, Any]) -> str:
    """`client_ip` from a request's META or a WSGI environ (the same keys), for the
    verification fast path that answers without a Django request."""
    remote = _plain(meta.get("REMOTE_ADDR", ""))
    trusted = settings.LICENSARY["TRUSTED_PROXIES"]
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and remote in trusted:
        # Walk from the right: the last hop not itself a trusted proxy is the client.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop not in trusted:
                try:
                    return _plain(str(ipaddress.ip_address(hop)))
                except ValueError:
                    return remote
    return remote
