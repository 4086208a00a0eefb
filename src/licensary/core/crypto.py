"""Secrets at rest (signing keys, supplier passwords): Fernet with a key derived from SECRET_KEY."""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet(purpose: bytes) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"licensary-" + purpose, info=b"fernet"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(purpose: bytes, secret: bytes) -> str:
    return _fernet(purpose).encrypt(secret).decode()


def unseal(purpose: bytes, token: str) -> bytes:
    try:
        return _fernet(purpose).decrypt(token.encode())
    except InvalidToken as exc:
        raise RuntimeError(
            "a stored secret cannot be decrypted: was LICENSARY_SECRET_KEY changed?"
        ) from exc
