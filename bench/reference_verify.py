"""The reference ceiling for bench/verify.sh: the least a verify endpoint can do, as a raw WSGI
application on granian (the same server, workers and threads as `licensary serve`).

    REFERENCE_DATABASE_URL=... REFERENCE_PRODUCT=bench-verify \\
        python -m granian --interface wsgi --working-dir bench reference_verify:application

The same work as Licensary's answer and nothing else: read the JSON body, one lookup of the
caller's license by (product, IP) with one prepared statement on a persistent connection per
thread, the same canonical document signed with Ed25519 (a key made at start), the same JSON
answer. No Django, no throttle, no headers beyond the content type, no request id, no access
log, no checks of the input beyond what the lookup needs. `GET /api/v1/verify/keys` lists the
key so that bench/verify/check.py can check the reference's answers like Licensary's.
"""

import base64
import hashlib
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DATABASE_URL = os.environ["REFERENCE_DATABASE_URL"]
PRODUCT = os.environ["REFERENCE_PRODUCT"]
POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
COLUMNS = "id, kind, status, period_end"
LOOKUP = (
    f"SELECT {COLUMNS} FROM licenses_license WHERE product_id = %s AND ip = %s::inet "
    "AND status <> 'deleted' LIMIT 1"
    if POSTGRES
    else f"SELECT {COLUMNS} FROM licenses_license WHERE product_id = ? AND ip = ? "
    "AND status <> 'deleted' LIMIT 1"
)
# One key for every worker (each process imports this module): made from a fixed seed.
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"licensary reference").digest())
KEY_ID = "reference"
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()
_local = threading.local()


def _connect() -> Any:
    if POSTGRES:
        import psycopg

        connection = psycopg.connect(DATABASE_URL, autocommit=True)
        connection.execute("SET TIME ZONE 'UTC'")
        return connection
    return sqlite3.connect(urlparse(DATABASE_URL).path, check_same_thread=False)


def _db() -> Any:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = _connect()
    return connection


def _query(sql: str, params: tuple[Any, ...]) -> Any:
    if POSTGRES:
        with _db().cursor() as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    return _db().execute(sql, params).fetchone()


PRODUCT_ID, PRODUCT_KIND = _query(
    "SELECT id, kind FROM catalog_product WHERE slug = " + ("%s" if POSTGRES else "?"), (PRODUCT,)
)


def _moment(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite: Django's naive UTC text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(start_response: Any, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/api/v1/verify/keys":
        body = json.dumps({"keys": [{"key_id": KEY_ID, "public_key": PUBLIC}]}).encode()
        return _answer(start_response, "200 OK", body)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length))
    if request["product"] != PRODUCT:
        return _answer(start_response, "404 Not Found", b'{"code": "not_found"}')
    ip = environ["REMOTE_ADDR"]
    now = datetime.now(UTC)
    row = _query(LOOKUP, (PRODUCT_ID, ip))
    status = "unknown"
    if row:
        status = row[2]
        if status == "active" and now >= _moment(row[3]):
            status = "blocked"
    document = {
        "license": str(row[0]) if row else None,
        "product": PRODUCT,
        "kind": row[1] if row else PRODUCT_KIND,
        "ip": ip,
        "status": status,
        "valid_until": _text(_moment(row[3])) if row and status == "active" else None,
        "issued_at": _text(now),
        "nonce": request["nonce"],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signature = base64.b64encode(KEY.sign(text.encode())).decode()
    body = json.dumps({"document": text, "signature": signature, "key_id": KEY_ID}).encode()
    return _answer(start_response, "200 OK", body)
