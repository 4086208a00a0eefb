"""Webhook secrets and signatures, by the Standard Webhooks specification (signed with its
`standardwebhooks` library, so that receivers verify with theirs in any language).

A secret is `whsec_` and the base64 of 32 random bytes, kept sealed in the database. The
`webhook-signature` header is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; for
WEBHOOK_SECRET_OVERLAP_HOURS after a rotation it carries the old secret's signature too,
space-separated, as the specification allows, so receivers can switch when they like.
"""

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

from licensary.core.crypto import seal, unseal
from licensary.notifications.models import WebhookEndpoint

PREFIX = "whsec_"
_PURPOSE = b"webhook-secret"


def secret_new() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_seal(secret: str) -> str:
    return seal(_PURPOSE, secret.encode())


def signing_secrets(endpoint: WebhookEndpoint, *, at: datetime) -> list[str]:
    """The secrets that sign at `at`: the current one, then the previous one while it lasts."""
    found = [unseal(_PURPOSE, endpoint.secret_sealed).decode()]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed and expires is not None and at < expires:
        found.append(unseal(_PURPOSE, endpoint.previous_secret_sealed).decode())
    return found


def signature_header(keys: list[str], *, webhook_id: str, at: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,...` per secret, space-separated."""
    return " ".join(Webhook(key).sign(webhook_id, at, body) for key in keys)


def timestamp_header(at: datetime) -> str:
    """`webhook-timestamp`: whole seconds since the epoch, as `sign` floors them."""
    return str(int(at.timestamp()))
