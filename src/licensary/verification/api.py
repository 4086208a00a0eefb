"""The public verification endpoint for licensed servers (no token)."""

import re
import socket
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_ratelimit.core import is_ratelimited
from ninja import Field, Router, Schema
from pydantic import field_validator

from licensary.catalog.models import Product
from licensary.core.errors import RateLimited
from licensary.core.ip import client_ip
from licensary.verification.keys import keys_listing
from licensary.verification.services import NONCE_MAX, verify_license

router = Router(tags=["verification"], auth=None)


PRODUCT_MAX = Product._meta.get_field("slug").max_length
# C0 and C1 control characters, DEL and lone surrogates: never in a slug or a nonce. A lone
# surrogate cannot even be encoded to be signed, and PostgreSQL refuses NUL in text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class VerifyIn(Schema):
    product: str = Field(max_length=PRODUCT_MAX)
    nonce: str

    @field_validator("product", "nonce")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        # A nonce too long to be worth scanning is refused by its length (`invalid_nonce`).
        if len(value) <= NONCE_MAX and _UNSAFE.search(value):
            raise ValueError("control characters and lone surrogates are not allowed")
        return value


class VerifyOut(Schema):
    document: str
    signature: str
    key_id: str


class KeyOut(Schema):
    key_id: str
    algorithm: str
    public_key: str
    status: Literal["active", "next", "retiring"]
    activates_at: datetime
    created_at: datetime


class KeySignatureOut(Schema):
    key_id: str
    signature: str


class KeysOut(Schema):
    keys: list[KeyOut]
    document: str = Field(description="The canonical JSON text of `keys`, which is signed.")
    signatures: list[KeySignatureOut] = Field(
        description="A signature over `document` by each published key."
    )


def throttle_bucket(ip: str) -> str:
    """Whom the verify limit counts: an IPv4 address, or the /64 of an IPv6 one (a subscriber
    is usually handed a whole /64, so counting addresses would give it 2**64 budgets)."""
    if ":" not in ip:
        return ip
    try:
        # inet_pton, not ipaddress.IPv6Network: ~1.5 us against ~60 us on the hot path
        return socket.inet_pton(socket.AF_INET6, ip)[:8].hex() + "/64"
    except (OSError, ValueError):
        return ip


@router.post(
    "/verify", response=VerifyOut, summary="A licensed server asks for its signed license document"
)
def verify(request: HttpRequest, payload: VerifyIn) -> HttpResponse:
    ip = client_ip(request)
    bucket = throttle_bucket(ip)
    if is_ratelimited(
        request,
        group="verify",
        key=lambda group, request: bucket,
        increment=True,
        rate=settings.LICENSARY["VERIFY_RATE"],
    ):
        raise RateLimited("Too many verification requests from this address; slow down.")
    answer = verify_license(product=payload.product, nonce=payload.nonce, ip=ip)
    # Three strings we made ourselves: answered as is, without validating them again.
    return JsonResponse(answer)


@router.get(
    "/verify/keys", response=KeysOut, summary="The public keys by key_id, signed by each of them"
)
def verify_keys(request: HttpRequest) -> HttpResponse:
    # `document` must be byte for byte the text that was signed: answered as is.
    return JsonResponse(keys_listing())
