"""Where a webhook may go (no SSRF): an https URL whose host resolves only to public addresses.

Checked when an agent registers the URL and again before every attempt, since a name may
resolve elsewhere by then (DNS rebinding); the attempt then connects to the very address that
was checked, keeping the name for the Host header and TLS (SNI and certificate). With
LICENSARY_ALLOW_PRIVATE_IPS (development, tests) plain http and private or loopback addresses
are allowed; unspecified, multicast and reserved addresses never are.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

from licensary.core.errors import UrlNotAllowed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, and the addresses its host resolved to (all allowed)."""

    url: str
    scheme: str
    host: str  # as in the URL, lower case, without brackets
    port: int
    addresses: tuple[Address, ...]
    literal: bool  # the URL names an address, not a host name


def private_allowed() -> bool:
    return settings.LICENSARY["ALLOW_PRIVATE_IPS"]


def url_parts(url: str) -> SplitResult:
    """The URL's parts, or `url_not_allowed` saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of range raises here
    except ValueError as exc:
        raise UrlNotAllowed(f"{url!r} is not a URL: {exc}.") from None
    if port == 0:
        raise UrlNotAllowed("A webhook URL's port is 1 to 65535.")
    allowed = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in allowed:
        raise UrlNotAllowed("A webhook URL must be https.")
    if not parts.hostname:
        raise UrlNotAllowed("A webhook URL names a host.")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("A webhook URL may not carry a user name or password.")
    return parts


def refusal(address: Address) -> str | None:
    """Why a webhook may not go to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:127.0.0.1, 6to4, Teredo) is that address.
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inner is not None:
            return refusal(inner)
    if (
        address.is_unspecified
        or address.is_multicast
        or (
            address.is_reserved and not address.is_loopback  # ::1 is in IPv6's reserved ::/8
        )
    ):
        return f"{address} is not an address a webhook can go to"
    if private_allowed():
        return None
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    if not address.is_global or address.is_private or address.is_loopback or site_local:
        return f"{address} is not a public address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now (a network call: never inside a transaction)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def target_check(url: str) -> Target:
    """`url` as a `Target` whose every address is allowed; `url_not_allowed` otherwise."""
    parts = url_parts(url)
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port is not None else (443 if parts.scheme == "https" else 80)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            raise UrlNotAllowed(f"{host} cannot be resolved.") from None
        if not found:
            raise UrlNotAllowed(f"{host} cannot be resolved.")
    for address in found:
        why = refusal(address)
        if why is not None:
            # Every address must be allowed: one that is not could be picked on any attempt.
            raise UrlNotAllowed(f"{host} resolves to {why}.")
    return Target(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port,
        addresses=tuple(found),
        literal=literal is not None,
    )
