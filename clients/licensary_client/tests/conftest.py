"""A real HTTP server on 127.0.0.1 that behaves like Licensary's verification API.

It signs documents exactly per the wire format with a test Ed25519 key and can be switched into
every failure the client has to survive or refuse.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PRODUCT = "acme-panel"
SERVER_IP = "127.0.0.1"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(obj: Any) -> str:
    # Written out here rather than imported so the tests do not trust the code under test.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def public_entry(key_id: str, private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "key_id": key_id,
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(raw).decode("ascii"),
        "created_at": "2026-01-01T00:00:00Z",
    }


def sign(private: Ed25519PrivateKey, document: str) -> str:
    return base64.b64encode(private.sign(document.encode("utf-8"))).decode("ascii")


@dataclass
class FakeLicensary:
    """Server state the tests flip between requests."""

    url: str = ""
    # Every key the server can sign with; `published` says which ones GET /keys lists, and
    # `list_signers` which keys sign that list (None: every published key, as the server does).
    private_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=lambda: ["k1"])
    list_signers: list[str] | None = None
    keys_mode: str = "ok"  # ok | 500
    signing_key_id: str = "k1"
    mode: str = "ok"  # ok | 500 | 429 | wrong_nonce | unknown_key | tamper | bad_envelope
    tamper_index: int = 0
    status: str = "active"
    product: str | None = None  # None: echo the product asked for
    # Set by the fixture to one minute before the real clock, so the CLI (which reads the real
    # clock) and library calls with an injected `now` see the same timeline.
    issued_at: datetime = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)
    valid_until: datetime | None = None
    license_id: str | None = "lic_alice_1"
    ip: str = SERVER_IP
    claim_status: int = 200
    claim_body: dict[str, Any] = field(default_factory=lambda: {"status": "proven"})
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    def key_listing(self) -> dict[str, Any]:
        keys = [
            {
                **public_entry(kid, self.private_keys[kid]),
                "status": "active" if kid == self.signing_key_id else "retiring",
                "activates_at": "2026-01-01T00:00:00Z",
            }
            for kid in self.published
        ]
        document = canonical(keys)
        signers = self.published if self.list_signers is None else self.list_signers
        return {
            "keys": keys,
            "document": document,
            "signatures": [
                {"key_id": kid, "signature": sign(self.private_keys[kid], document)}
                for kid in signers
            ],
        }

    def key_requests(self) -> int:
        return sum(1 for _, path, _ in self.requests if path == "/api/v1/verify/keys")

    def document_for(self, product: str, nonce: str) -> dict[str, Any]:
        return {
            "license": self.license_id,
            "product": self.product if self.product is not None else product,
            "kind": "own",
            "ip": self.ip,
            "status": self.status,
            "valid_until": stamp(self.valid_until) if self.valid_until else None,
            "issued_at": stamp(self.issued_at),
            "nonce": nonce,
        }

    def answer_verify(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.mode == "500":
            return 500, {"code": "server_error", "title": "Server error"}
        if self.mode == "429":
            return 429, {"code": "rate_limited", "title": "Too many requests"}
        if self.mode == "bad_envelope":
            return 200, {"document": {"status": "active"}, "signature": None}
        nonce = body["nonce"]
        if self.mode == "wrong_nonce":
            nonce = "n" * 43
        document = canonical(self.document_for(body["product"], nonce))
        key_id = self.signing_key_id
        if self.mode == "unknown_key":
            key_id = "rogue"
            self.private_keys.setdefault(key_id, Ed25519PrivateKey.generate())
        signature = sign(self.private_keys[key_id], document)
        if self.mode == "tamper":
            raw = bytearray(document.encode("utf-8"))
            raw[self.tamper_index] ^= 0x01
            document = raw.decode("utf-8")
        answer = {"document": document, "signature": signature, "key_id": key_id}
        self.answers.append(answer)
        return 200, answer

    def stop(self) -> None:
        """Go down: the port is closed, so connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def _handler(fake: FakeLicensary) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            ctype = "application/json" if status < 400 else "application/problem+json"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, None))
            if self.path == "/api/v1/verify/keys" and fake.keys_mode == "500":
                self._send(500, {"code": "server_error"})
            elif self.path == "/api/v1/verify/keys":
                self._send(200, fake.key_listing())
            else:
                self._send(404, {"code": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append(("POST", self.path, body))
            if self.path == "/api/v1/verify":
                self._send(*fake.answer_verify(body))
            elif self.path.startswith("/api/v1/claims/") and self.path.endswith("/proof"):
                self._send(fake.claim_status, fake.claim_body)
            else:
                self._send(404, {"code": "not_found"})

    return Handler


@pytest.fixture
def fake() -> Any:
    server = FakeLicensary(
        private_keys={"k1": Ed25519PrivateKey.generate(), "k2": Ed25519PrivateKey.generate()},
        issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server._httpd = httpd
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.stop()
    thread.join(timeout=5)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
