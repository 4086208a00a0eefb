"""The public verification endpoint for licensed servers (no token)."""

import socket

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_ratelimit.core import is_ratelimited
from ninja import Router

from licensary.core.errors import RateLimited
from licensary.core.ip import client_ip
from licensary.verification.keys import keys_listing
from licensary.verification.schemas import KeysOut, VerifyIn, VerifyOut
from licensary.verification.services import verify_license

router = Router(tags=["verification"], auth=None)


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
