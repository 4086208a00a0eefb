"""`licensary serve` and `licensary up` run granian with the verification fast path in front of
Django, and need nothing set up for it: the fast path answers verification, and everything
Django served before still works through the same server (the API, a portal page with its
CSRF-checked sign-in and session, static files through WhiteNoise, the admin); `up` also runs
the worker; `serve --verify-only` answers the verification routes alone."""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection

from licensary.accounts.services import account_create, token_create
from licensary.catalog.models import Product

PASSWORD = "a long enough password"
NONCE = "serve-nonce-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "licensary.cli", *argv, "--port", str(self.port)],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, path: str = "/api/v1/verify/keys", timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.base + path, timeout=5).close()
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise AssertionError(f"the server did not answer: {self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise


def environment(tmp_path: Path, database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "LICENSARY_DATA_DIR": str(tmp_path / "data"),
        # The signing keys are sealed with it: the server must open the ones the test made.
        "LICENSARY_SECRET_KEY": settings.SECRET_KEY,
        "LICENSARY_DEBUG": "false",
        "LICENSARY_LOG_LEVEL": "WARNING",
    }


def fetch(
    opener: Any, url: str, data: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = Server(
        ["serve", "--workers", "1"], environment(tmp_path, database_url()), tmp_path / "serve.log"
    )
    try:
        server.wait()
        yield server
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_serve_answers_verification_on_the_fast_path_and_everything_else_through_django(
    tmp_path: Path, product: Product, served: Server
) -> None:
    alice = account_create(actor=None, kind="customer", email="alice@serve.test", password=PASSWORD)
    token = token_create(user=alice)[1]
    plain = urllib.request.build_opener()

    status, headers, body = fetch(
        plain,
        f"{served.base}/api/v1/verify",
        json.dumps({"product": product.slug, "nonce": NONCE}).encode(),
        **{"Content-Type": "application/json", "X-Request-Id": "serve-test-1"},
    )
    assert status == 200
    answer = json.loads(body)
    document = json.loads(answer["document"])
    assert (document["ip"], document["status"], document["nonce"]) == (
        "127.0.0.1",
        "unknown",
        NONCE,
    )
    assert headers["x-request-id"] == "serve-test-1"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    _, _, listing = fetch(plain, f"{served.base}/api/v1/verify/keys")
    keys = {k["key_id"]: k["public_key"] for k in json.loads(listing)["keys"]}
    Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[answer["key_id"]])).verify(
        base64.b64decode(answer["signature"]), answer["document"].encode()
    )

    status, _, body = fetch(
        plain, f"{served.base}/api/v1/account", **{"Authorization": f"Bearer {token}"}
    )
    assert (status, json.loads(body)["email"]) == (200, "alice@serve.test")
    status, headers, body = fetch(plain, f"{served.base}/api/v1/account")
    assert (status, headers["content-type"], json.loads(body)["code"]) == (
        401,
        "application/problem+json",
        "unauthenticated",
    )

    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar := CookieJar()))
    status, _, page = fetch(browser, f"{served.base}/portal/sign-in/")
    assert status == 200 and b"csrfmiddlewaretoken" in page
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = {"username": "alice@serve.test", "password": PASSWORD, "next": "/portal/"}
    refused, _, _ = fetch(
        plain, f"{served.base}/portal/sign-in/", urllib.parse.urlencode(form).encode()
    )
    assert refused == 403  # no CSRF token: refused
    status, _, dashboard = fetch(
        browser,
        f"{served.base}/portal/sign-in/",
        urllib.parse.urlencode({**form, "csrfmiddlewaretoken": csrf}).encode(),
        Referer=f"{served.base}/portal/sign-in/",
    )
    # followed to the dashboard, signed in by the session cookie the sign-in set
    assert status == 200 and b"alice@serve.test" in dashboard

    status, headers, _ = fetch(plain, f"{served.base}/static/portal/portal.css")
    assert (status, headers["content-type"].split(";")[0]) == (200, "text/css")
    status, _, admin = fetch(plain, f"{served.base}/admin/login/")
    assert status == 200 and b"csrfmiddlewaretoken" in admin


@pytest.mark.django_db(transaction=True)
def test_serve_verify_only_answers_verification_and_not_found_for_the_rest(
    tmp_path: Path, product: Product
) -> None:
    server = Server(
        ["serve", "--verify-only", "--workers", "1"],
        environment(tmp_path, database_url()),
        tmp_path / "verify-only.log",
    )
    try:
        server.wait()
        plain = urllib.request.build_opener()
        status, _, body = fetch(
            plain,
            f"{server.base}/api/v1/verify",
            json.dumps({"product": product.slug, "nonce": NONCE}).encode(),
            **{"Content-Type": "application/json"},
        )
        assert (status, json.loads(json.loads(body)["document"])["status"]) == (200, "unknown")
        for path in ("/api/v1/account", "/portal/sign-in/", "/admin/login/"):
            status, headers, body = fetch(plain, server.base + path)
            assert (status, headers["content-type"], json.loads(body)["code"]) == (
                404,
                "application/problem+json",
                "not_found",
            ), path
    finally:
        server.stop()


def test_up_migrates_serves_through_the_fast_path_and_runs_the_worker(tmp_path: Path) -> None:
    # Its own fresh database: `up` migrates it, makes the first admin and starts both.
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'up.sqlite3'}")
    up = Server(["up", "--workers", "1"], env, tmp_path / "up.log")
    try:
        up.wait()
        plain = urllib.request.build_opener()
        status, _, body = fetch(plain, f"{up.base}/api/v1/verify/keys")
        assert status == 200 and json.loads(body)["keys"][0]["status"] == "active"
        status, _, body = fetch(plain, f"{up.base}/api/v1/account")
        assert (status, json.loads(body)["code"]) == (401, "unauthenticated")
        children = Path(f"/proc/{up.process.pid}/task/{up.process.pid}/children").read_text()
        commands = [
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for pid in children.split()
        ]
        assert any("licensary.cli worker" in c for c in commands), commands
        assert any("granian" in c and "licensary.config.wsgi:application" in c for c in commands)
    finally:
        assert up.stop() == 0
