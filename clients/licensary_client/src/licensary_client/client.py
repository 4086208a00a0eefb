"""Ask a Licensary server whether this machine is licensed, and fall back to a cached proof.

Rules (the README repeats them for operators):

* Every check sends a fresh random nonce; an answer for another nonce is refused, so a recorded
  answer cannot be replayed.
* The document's ``ip`` must be ``expected_ip`` when given, else an address of this machine's
  own interfaces (behind NAT pass ``expected_ip``); answers older than the grace are refused.
* Keys: pinned keys passed by the caller win and are never replaced. Without them the key list
  is fetched from the server on first use (https, this machine, or ``allow_insecure_first_use``)
  and cached in ``state_dir`` (trust on first use); a damaged cached list fails closed. It is
  fetched again when an answer names a key the client does not know, or when the cached list is
  more than a day old, and a new list replaces the cached one only when a key the client already
  trusts signed it: the server publishes its next key, signed by the current one, days before it
  signs with it, so a client follows every rotation, while an impostor publishing its own key
  is still refused.
* Every authentic answer (whatever its status) is kept as the last accepted document; a later
  answer with an earlier ``issued_at`` is refused as a rollback. Keeping blocked answers too
  means that cutting the network after a block cannot resurrect an older ``active`` document.
* When the server cannot be reached (connection error, timeout, any non-2xx answer such as 5xx
  or 429), the cached document is verified again from disk and the machine stays licensed while
  it was ``active`` and ``now <= issued_at + grace`` and, if it has a ``valid_until``,
  ``now <= valid_until``: the grace covers outages, not the end of a paid period.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import http.client
import ipaddress
import json
import os
import re
import secrets
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import __version__
from .document import (
    MalformedDocument,
    MalformedKeys,
    UnknownKey,
    UntrustedKeys,
    VerificationError,
    format_timestamp,
    load_public_keys,
    parse_timestamp,
    verify_document,
    verify_key_listing,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, writes stay atomic
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_MAX_SKEW",
    "CheckResult",
    "Client",
    "InsecureFirstUse",
    "IpMismatch",
    "IssuedInFuture",
    "KeysFileError",
    "NonceMismatch",
    "ProductMismatch",
    "Rollback",
    "ServerUnreachable",
    "StaleDocument",
    "State",
    "check",
    "post_json",
]

DEFAULT_GRACE = timedelta(hours=72)
DEFAULT_MAX_SKEW = timedelta(minutes=10)
DEFAULT_TIMEOUT = 5.0
# A cached key list older than this is fetched again, so that a client that never meets an
# unknown key still learns of a retired one and of the next one well before it signs.
KEYS_MAX_AGE = timedelta(days=1)
# Answers are a few hundred bytes; the cap stops a hostile endpoint from filling memory.
MAX_RESPONSE_BYTES = 1024 * 1024
_PRODUCT_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class State(enum.StrEnum):
    """The outcome of a check; `exit_code` is what ``licensary-client check`` exits with."""

    VALID = "valid"
    NOT_ACTIVE = "not_active"
    INVALID = "invalid"
    UNREACHABLE_WITHIN_GRACE = "unreachable_within_grace"
    UNREACHABLE_PAST_GRACE = "unreachable_past_grace"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @property
    def licensed(self) -> bool:
        """Whether the licensed software should keep running."""
        return self in (State.VALID, State.UNREACHABLE_WITHIN_GRACE)


_EXIT_CODES = {
    State.VALID: 0,
    State.NOT_ACTIVE: 1,
    State.INVALID: 2,
    State.UNREACHABLE_WITHIN_GRACE: 3,
    State.UNREACHABLE_PAST_GRACE: 4,
}


class NonceMismatch(VerificationError):
    code = "nonce_mismatch"


class ProductMismatch(VerificationError):
    code = "product_mismatch"


class IpMismatch(VerificationError):
    code = "ip_mismatch"


class Rollback(VerificationError):
    code = "rollback"


class IssuedInFuture(VerificationError):
    code = "issued_in_future"


class StaleDocument(VerificationError):
    code = "stale_document"


class KeysFileError(Exception):
    """The cached key list exists but cannot be read or parsed: fail closed, never refetch.

    Silently trusting the server again on first use would let whoever damaged the file (or
    answers in the server's place next) choose the keys.
    """

    code = "keys_file_unreadable"


class InsecureFirstUse(Exception):
    """No key is trusted yet and the server is plain http on a remote host."""

    code = "insecure_first_use"


class ServerUnreachable(Exception):
    """No usable answer: network failure, timeout or a non-2xx HTTP status."""

    def __init__(self, detail: str, *, status: int | None = None, code: str | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class CheckResult:
    state: State
    reason: str
    detail: str
    checked_at: datetime
    document: dict[str, Any] | None = None
    from_cache: bool = False
    grace_until: datetime | None = field(default=None)

    @property
    def licensed(self) -> bool:
        return self.state.licensed

    @property
    def exit_code(self) -> int:
        return self.state.exit_code

    def to_dict(self) -> dict[str, Any]:
        doc = self.document or {}
        return {
            "state": self.state.value,
            "exit_code": self.exit_code,
            "licensed": self.licensed,
            "reason": self.reason,
            "detail": self.detail,
            "from_cache": self.from_cache,
            "checked_at": _iso(self.checked_at),
            "grace_until": _iso(self.grace_until),
            "license": doc.get("license"),
            "product": doc.get("product"),
            "status": doc.get("status"),
            "ip": doc.get("ip"),
            "issued_at": doc.get("issued_at"),
            "valid_until": doc.get("valid_until"),
        }

    def summary(self) -> str:
        """One line for humans and logs."""
        return f"{self.state.value}: {self.detail}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without a body; failing loudly tells the
    # operator to configure the final URL instead.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _request(url: str, payload: Any | None, timeout: float) -> tuple[int, bytes]:
    """Send one request and return (status, body) for any HTTP status; raise if nothing came."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"server URL must be http or https: {url!r}")
    headers = {
        "Accept": "application/json, application/problem+json",
        "User-Agent": f"licensary-client/{__version__}",
    }
    data = None
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                return response.status, response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read(MAX_RESPONSE_BYTES + 1)
    # A body cut short (IncompleteRead) or a timeout mid-read is an outage like a refused
    # connection, not a statement by the server.
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(f"cannot reach {url}: {reason}") from exc


def _json_body(body: bytes) -> Any:
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError("answer too large")
    return json.loads(body.decode("utf-8"))


def problem_code(body: bytes) -> str | None:
    """The `code` of an application/problem+json body, if there is one."""
    try:
        parsed = _json_body(body)
    except ValueError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code if isinstance(code, str) else None


def post_json(url: str, payload: Any, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, bytes]:
    """POST a JSON body; return (status, raw body). Raises ServerUnreachable on network failure."""
    return _request(url, payload, timeout)


def _get_ok_json(url: str, payload: Any | None, timeout: float) -> Any:
    status, body = _request(url, payload, timeout)
    if not 200 <= status < 300:
        code = problem_code(body)
        suffix = f" ({code})" if code else ""
        raise ServerUnreachable(f"{url} answered HTTP {status}{suffix}", status=status, code=code)
    try:
        return _json_body(body)
    except ValueError as exc:
        raise MalformedDocument(f"{url} answered a body that is not JSON") from exc


def _write_private(path: Path, payload: Any) -> None:
    """Replace `path` atomically with JSON `payload`, readable by the owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(payload, handle, sort_keys=True, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # Without syncing the folder a crash could leave the rename unrecorded.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _normal_ip(value: str) -> str:
    """One spelling per address (IPv6 compressed, IPv4-mapped IPv6 as IPv4); ValueError if none."""
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def is_local_address(value: str) -> bool:
    """Whether `value` is assigned to one of this machine's network interfaces.

    Binding a socket to an address succeeds only for an address the machine holds (the kernel
    answers EADDRNOTAVAIL otherwise); unlike enumerating interfaces this needs no platform code,
    no ioctl and no DNS, and it also works offline. The wildcard and multicast addresses, which
    bind anywhere, never count.
    """
    try:
        address = ipaddress.ip_address(_normal_ip(value))
    except ValueError:
        return False
    if address.is_unspecified or address.is_multicast:
        return False
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def _aware_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


class Client:
    """Checks one product's license against one Licensary server.

    `state_dir` holds the cached key list and the last accepted document; give each licensed
    installation its own folder and keep it writable by the service user only.
    """

    def __init__(
        self,
        server: str,
        product: str,
        *,
        state_dir: str | os.PathLike[str],
        grace: timedelta = DEFAULT_GRACE,
        keys: Mapping[str, Ed25519PublicKey] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
        expected_ip: str | None = None,
        allow_insecure_first_use: bool = False,
    ) -> None:
        if urllib.parse.urlsplit(server).scheme not in ("http", "https"):
            raise ValueError(f"server URL must start with http:// or https://: {server!r}")
        if not _PRODUCT_SLUG.fullmatch(product):
            raise ValueError(f"product must be a slug: {product!r}")
        if grace < timedelta(0) or max_skew < timedelta(0):
            raise ValueError("grace and max_skew must not be negative")
        self.server = server.rstrip("/")
        self.product = product
        self.state_dir = Path(state_dir).expanduser()
        self.grace = grace
        self.pinned_keys = dict(keys) if keys is not None else None
        self.timeout = timeout
        self.max_skew = max_skew
        self.allow_insecure_first_use = allow_insecure_first_use
        try:
            self.expected_ip = None if expected_ip is None else _normal_ip(expected_ip)
        except ValueError as exc:
            raise ValueError(f"expected_ip must be an IP address: {expected_ip!r}") from exc
        # One folder may serve several servers and products; the hash keeps their files apart
        # without putting URL characters into file names.
        tag = hashlib.sha256(self.server.encode("utf-8")).hexdigest()[:12]
        self.keys_path = self.state_dir / f"keys-{tag}.json"
        self.document_path = self.state_dir / f"document-{product}-{tag}.json"

    # -- public -------------------------------------------------------------------------------

    def check(self, *, now: datetime | None = None) -> CheckResult:
        """Ask the server; on an outage decide from the cached document and the grace period."""
        now = _aware_now(now)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            nonce = secrets.token_urlsafe(32)
            try:
                keys, may_refresh = self._keys_online(now)
                envelope = _get_ok_json(
                    f"{self.server}/api/v1/verify",
                    {"product": self.product, "nonce": nonce},
                    self.timeout,
                )
                unknown = envelope.get("key_id") if isinstance(envelope, dict) else None
                if may_refresh and isinstance(unknown, str) and unknown not in keys:
                    keys = self._refresh_for(unknown, keys, now)
                fields = self._accept(envelope, keys, nonce=nonce, now=now)
            except ServerUnreachable as exc:
                return self._offline(now, exc)
            except (KeysFileError, InsecureFirstUse) as exc:
                return CheckResult(State.INVALID, exc.code, str(exc), now)
            except (VerificationError, MalformedKeys) as exc:
                code = getattr(exc, "code", "malformed_keys")
                return CheckResult(State.INVALID, code, f"refused the answer: {exc}", now)
            self._store(envelope)
        if fields["status"] == "active":
            return CheckResult(
                State.VALID, "active", _describe(fields, "is active"), now, document=fields
            )
        return CheckResult(
            State.NOT_ACTIVE,
            fields["status"],
            _describe(fields, f"is {fields['status']}"),
            now,
            document=fields,
        )

    # -- keys ---------------------------------------------------------------------------------

    def _cached_keys(self) -> dict[str, Ed25519PublicKey] | None:
        if self.pinned_keys is not None:
            return self.pinned_keys
        stored = self._stored_keys()
        return None if stored is None else stored[0]

    def _stored_keys(self) -> tuple[dict[str, Ed25519PublicKey], datetime | None] | None:
        """The cached list and when it was fetched (None: by an older client, so unknown).

        None only when there is no file (first use); a file that cannot be read or names no
        Ed25519 key raises `KeysFileError`.
        """
        try:
            stored = json.loads(self.keys_path.read_text(encoding="utf-8"))
            keys = load_public_keys(stored)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise KeysFileError(self._keys_file_problem(exc)) from exc
        if not keys:
            raise KeysFileError(self._keys_file_problem("it names no Ed25519 key"))
        try:
            fetched_at: datetime | None = parse_timestamp(stored.get("fetched_at"))
        except ValueError:
            fetched_at = None
        return keys, fetched_at

    def _keys_file_problem(self, problem: object) -> str:
        return (
            f"the trusted key file {self.keys_path} is unreadable or corrupt ({problem}); "
            "nothing is trusted until it is restored, or deleted to trust the server's key "
            "list again on first use"
        )

    def _first_use_allowed(self) -> bool:
        """Trust on first use over plain http only when asked to, or on this machine itself."""
        parts = urllib.parse.urlsplit(self.server)
        if parts.scheme == "https" or self.allow_insecure_first_use:
            return True
        host = (parts.hostname or "").lower()
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _fetch_keys(
        self, trusted: Mapping[str, Ed25519PublicKey] | None, now: datetime
    ) -> dict[str, Ed25519PublicKey]:
        """Fetch the key list and cache it, if `trusted` (None: first use) signed it."""
        listing = _get_ok_json(f"{self.server}/api/v1/verify/keys", None, self.timeout)
        entries = verify_key_listing(listing, trusted)
        keys = load_public_keys({"keys": entries})
        _write_private(self.keys_path, {"keys": entries, "fetched_at": format_timestamp(now)})
        return keys

    def _keys_online(self, now: datetime) -> tuple[dict[str, Ed25519PublicKey], bool]:
        """The keys to check the answer with, and whether an unknown key may refresh them."""
        if self.pinned_keys is not None:
            return self.pinned_keys, False
        stored = self._stored_keys()
        if stored is None:
            if not self._first_use_allowed():
                raise InsecureFirstUse(
                    f"no trusted key yet, and {self.server} is plain http: anyone on the path "
                    "could answer the first key list; use https, pin keys with --keys (keys=), "
                    "or pass --insecure-first-use (allow_insecure_first_use=True)"
                )
            return self._fetch_keys(None, now), False
        keys, fetched_at = stored
        if fetched_at is None or abs(now - fetched_at) > KEYS_MAX_AGE:
            # The keys held are still good: a refresh that fails or is refused does not fail
            # the check, and is tried again next time.
            with contextlib.suppress(ServerUnreachable, MalformedKeys, VerificationError):
                return self._fetch_keys(keys, now), False
        return keys, True

    def _refresh_for(
        self, key_id: str, keys: Mapping[str, Ed25519PublicKey], now: datetime
    ) -> dict[str, Ed25519PublicKey]:
        try:
            return self._fetch_keys(keys, now)
        except (UntrustedKeys, MalformedKeys) as exc:
            raise UnknownKey(
                f"document signed with untrusted key {key_id!r}, and the server's key list was "
                f"refused: {exc}"
            ) from exc

    # -- documents ----------------------------------------------------------------------------

    def _accept(
        self, envelope: Any, keys: Mapping[str, Ed25519PublicKey], *, nonce: str, now: datetime
    ) -> dict[str, Any]:
        if not isinstance(envelope, dict) or not all(
            isinstance(envelope.get(name), str) for name in ("document", "signature", "key_id")
        ):
            raise MalformedDocument("answer lacks document, signature or key_id strings")
        fields = verify_document(
            envelope["document"], envelope["signature"], envelope["key_id"], keys
        )
        if not secrets.compare_digest(fields["nonce"].encode(), nonce.encode()):
            raise NonceMismatch("the answer is for another request (nonce differs)")
        self._check_claims(fields, now)
        # The server signs a fresh answer for a fresh nonce, so an old issued_at is a server
        # clock far behind (or a signer reusing documents): the answer would be past its grace
        # the moment it is stored. max_skew keeps a tiny grace from refusing a slow clock.
        oldest = now - max(self.grace, self.max_skew)
        if parse_timestamp(fields["issued_at"]) < oldest:
            raise StaleDocument(
                f"issued_at {fields['issued_at']} is older than the grace "
                f"({max(self.grace, self.max_skew)}) allows for an answer to a fresh request"
            )
        previous = self._last_accepted(keys)
        if previous is not None:
            issued = parse_timestamp(fields["issued_at"])
            before = parse_timestamp(previous["issued_at"])
            if issued < before:
                raise Rollback(
                    f"issued_at {fields['issued_at']} is earlier than the last accepted "
                    f"{previous['issued_at']}"
                )
        return fields

    def _check_claims(self, fields: Mapping[str, Any], now: datetime) -> None:
        if fields["product"] != self.product:
            raise ProductMismatch(
                f"document is for product {fields['product']!r}, not {self.product!r}"
            )
        # Without this a machine that is not licensed could have a licensed one relay its
        # request (with its own fresh nonce) and accept that machine's answer, or copy that
        # machine's cached document during an outage.
        if self.expected_ip is not None:
            if _normal_ip(fields["ip"]) != self.expected_ip:
                raise IpMismatch(f"document is for IP {fields['ip']}, not {self.expected_ip}")
        elif not is_local_address(fields["ip"]):
            raise IpMismatch(
                f"document is for IP {fields['ip']}, which is not an address of this machine; "
                "behind NAT, a proxy or in a container pass the public address the server sees "
                "with --ip (expected_ip=)"
            )
        issued = parse_timestamp(fields["issued_at"])
        if issued > now + self.max_skew:
            raise IssuedInFuture(
                f"issued_at {fields['issued_at']} is more than {self.max_skew} ahead of the "
                "local clock"
            )

    def _read_cached(self, keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
        """The cached document, verified again: the file is only as trustworthy as its signature."""
        stored = json.loads(self.document_path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or not all(
            isinstance(stored.get(name), str) for name in ("document", "signature", "key_id")
        ):
            raise MalformedDocument("cached file lacks document, signature or key_id strings")
        return verify_document(stored["document"], stored["signature"], stored["key_id"], keys)

    def _last_accepted(self, keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any] | None:
        # An unreadable or forged cache cannot vouch for an issued_at; it is ignored online (and
        # overwritten by the fresh answer) so that a damaged file does not lock a paying
        # customer out forever. Replays are already stopped by the nonce.
        try:
            return self._read_cached(keys)
        except (OSError, ValueError, VerificationError):
            return None

    def _store(self, envelope: Mapping[str, Any]) -> None:
        _write_private(
            self.document_path,
            {
                "server": self.server,
                "document": envelope["document"],
                "signature": envelope["signature"],
                "key_id": envelope["key_id"],
            },
        )

    def _offline(self, now: datetime, outage: ServerUnreachable) -> CheckResult:
        prefix = f"server unreachable ({outage})"
        try:
            keys = self._cached_keys()
        except KeysFileError as exc:
            return CheckResult(State.INVALID, exc.code, f"{prefix}; {exc}", now, from_cache=True)
        if keys is None:
            return CheckResult(
                State.UNREACHABLE_PAST_GRACE,
                "no_trusted_keys",
                f"{prefix}; no trusted keys to check a cached document with",
                now,
                from_cache=True,
            )
        try:
            fields = self._read_cached(keys)
            self._check_claims(fields, now)
        except FileNotFoundError:
            return CheckResult(
                State.UNREACHABLE_PAST_GRACE,
                "no_cached_document",
                f"{prefix}; no cached document",
                now,
                from_cache=True,
            )
        except (OSError, ValueError) as exc:
            return CheckResult(
                State.INVALID,
                "cached_document_unreadable",
                f"{prefix}; cached document unreadable: {exc}",
                now,
                from_cache=True,
            )
        except VerificationError as exc:
            return CheckResult(
                State.INVALID,
                exc.code,
                f"{prefix}; cached document refused: {exc}",
                now,
                from_cache=True,
            )

        grace_until = parse_timestamp(fields["issued_at"]) + self.grace
        if fields["valid_until"] is not None:
            grace_until = min(grace_until, parse_timestamp(fields["valid_until"]))
        if fields["status"] != "active":
            return CheckResult(
                State.UNREACHABLE_PAST_GRACE,
                "cached_not_active",
                f"{prefix}; " + _describe(fields, f"was {fields['status']} when last checked"),
                now,
                document=fields,
                from_cache=True,
            )
        if now <= grace_until:
            return CheckResult(
                State.UNREACHABLE_WITHIN_GRACE,
                "within_grace",
                f"{prefix}; " + _describe(fields, f"licensed until {_iso(grace_until)} (grace)"),
                now,
                document=fields,
                from_cache=True,
                grace_until=grace_until,
            )
        return CheckResult(
            State.UNREACHABLE_PAST_GRACE,
            "past_grace",
            f"{prefix}; " + _describe(fields, f"grace ended at {_iso(grace_until)}"),
            now,
            document=fields,
            from_cache=True,
            grace_until=grace_until,
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Two checks at once could otherwise both read the old document and the slower one
        # could overwrite a newer answer with an older one.
        if fcntl is None:
            yield
            return
        with open(self.state_dir / ".lock", "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _describe(fields: Mapping[str, Any], what: str) -> str:
    license_id = fields.get("license") or "(none)"
    return (
        f"license {license_id} for product {fields['product']} on {fields['ip']} {what} "
        f"(issued {fields['issued_at']})"
    )


def check(
    server: str,
    product: str,
    *,
    state_dir: str | os.PathLike[str],
    grace: timedelta = DEFAULT_GRACE,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    expected_ip: str | None = None,
    allow_insecure_first_use: bool = False,
) -> CheckResult:
    """One-shot `Client(...).check(now=now)`; see the module docstring for the rules."""
    client = Client(
        server,
        product,
        state_dir=state_dir,
        grace=grace,
        keys=keys,
        timeout=timeout,
        max_skew=max_skew,
        expected_ip=expected_ip,
        allow_insecure_first_use=allow_insecure_first_use,
    )
    return client.check(now=now)
