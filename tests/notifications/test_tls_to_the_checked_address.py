"""An https attempt connects to the address that was checked and speaks TLS to the host name:
the ClientHello names it (SNI) and the certificate is verified against it, so a server that
cannot prove the name gets nothing."""

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from licensary.notifications import targets
from licensary.notifications.models import WebhookAttempt
from tests.helpers import Api, run_jobs
from tests.notifications.conftest import register

NAME = "hooks.agent.test"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A TLS listener on 127.0.0.1 that records the SNI of each handshake it sees."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    seen: dict[str, Any] = {"sni": [], "port": 0}
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    seen["port"] = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield seen
    listener.close()
    thread.join(timeout=5)


def test_tls_names_the_host_to_the_checked_address_and_an_unprovable_name_gets_nothing(
    carol_api: Api, private_ips: None, tls_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targets, "resolve", lambda host, port: ["127.0.0.1"])
    webhook = register(carol_api, f"https://{NAME}:{tls_server['port']}/hooks")

    carol_api.post(f"/webhooks/{webhook['id']}/test")
    run_jobs()

    assert tls_server["sni"] == [NAME]
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.outcome) == (None, "failed")
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
