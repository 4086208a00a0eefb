"""Check that the server answers the benchmark's verify request for real, before and after.

    uv run python bench/verify/check.py URL PRODUCT NONCE LICENSE_ID

POSTs the same body wrk sends, from 127.0.0.1, and exits non-zero unless the answer is 200,
the document is for LICENSE_ID on 127.0.0.1 with status `active`, echoes the nonce, and
its Ed25519 signature verifies against the key published at /api/v1/verify/keys.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _call(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST" if body else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main() -> None:
    base, product, nonce, license_id = sys.argv[1:5]
    body = json.dumps({"product": product, "nonce": nonce}).encode()
    status, raw = _call(f"{base}/api/v1/verify", body)
    if status != 200:
        sys.exit(f"verify answered {status}: {raw[:300]!r}")
    answer = json.loads(raw)
    document = json.loads(answer["document"])
    expected = {
        "license": license_id,
        "product": product,
        "ip": "127.0.0.1",
        "status": "active",
        "nonce": nonce,
    }
    wrong = {k: document.get(k) for k, v in expected.items() if document.get(k) != v}
    if wrong:
        sys.exit(f"verify answered {wrong}, expected {expected}")
    status, raw = _call(f"{base}/api/v1/verify/keys")
    keys = {k["key_id"]: k["public_key"] for k in json.loads(raw)["keys"]}
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[answer["key_id"]]))
    public.verify(base64.b64decode(answer["signature"]), answer["document"].encode())
    print(f"  [check] 200, license {license_id} active on 127.0.0.1, signature verifies")


if __name__ == "__main__":
    main()
