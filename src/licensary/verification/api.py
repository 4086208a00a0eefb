"""The public verification endpoint for licensed servers (no token)."""

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_ratelimit.core import is_ratelimited
from ninja import Router, Schema

from licensary.core.errors import RateLimited
from licensary.core.ip import client_ip
from licensary.verification.keys import keys_published
from licensary.verification.services import verify_license

router = Router(tags=["verification"], auth=None)


class VerifyIn(Schema):
    product: str
    nonce: str


class VerifyOut(Schema):
    document: str
    signature: str
    key_id: str


class KeyOut(Schema):
    key_id: str
    algorithm: str
    public_key: str
    status: str
    created_at: datetime


class KeysOut(Schema):
    keys: list[KeyOut]


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


@router.post("/verify", response=VerifyOut,
             summary="A licensed server asks for its signed license document")
def verify(request: HttpRequest, payload: VerifyIn) -> HttpResponse:
    if is_ratelimited(request, group="verify", key=_ip_key, increment=True,
                      rate=settings.LICENSARY["VERIFY_RATE"]):
        raise RateLimited("Too many verification requests from this address; slow down.")
    answer = verify_license(product=payload.product, nonce=payload.nonce, ip=client_ip(request))
    # Three strings we made ourselves: answered as is, without validating them again.
    return JsonResponse(answer)


@router.get("/verify/keys", response=KeysOut, summary="The public keys, by key_id")
def verify_keys(request: HttpRequest) -> dict[str, list[dict[str, object]]]:
    return {"keys": [
        {"key_id": k.key_id, "algorithm": "Ed25519", "public_key": k.public_key,
         "status": k.status, "created_at": k.created_at}
        for k in keys_published()
    ]}
