"""The public verification endpoint for licensed servers (no token).

Under `licensary serve` these two routes are answered by the fast path in front of Django
(`verification/fastpath.py`), which calls the same functions; these views answer them in
tests, under any other WSGI server, and for every request the fast path hands over (a body
that needs the schema's refusal, a first key still to make).
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from licensary.core.errors import RateLimited
from licensary.core.ip import client_ip
from licensary.verification.keys import keys_listing_json
from licensary.verification.schemas import KeysOut, VerifyIn, VerifyOut
from licensary.verification.services import verify_license
from licensary.verification.throttle import verify_throttled

router = Router(tags=["verification"], auth=None)

THROTTLED = "Too many verification requests from this address; slow down."


@router.post(
    "/verify", response=VerifyOut, summary="A licensed server asks for its signed license document"
)
def verify(request: HttpRequest, payload: VerifyIn) -> HttpResponse:
    ip = client_ip(request)
    if verify_throttled(ip):
        raise RateLimited(THROTTLED)
    answer = verify_license(product=payload.product, nonce=payload.nonce, ip=ip)
    # Three strings we made ourselves: answered as is, without validating them again.
    return JsonResponse(answer)


@router.get(
    "/verify/keys", response=KeysOut, summary="The public keys by key_id, signed by each of them"
)
def verify_keys(request: HttpRequest) -> HttpResponse:
    # `document` must be byte for byte the text that was signed: answered as is.
    return HttpResponse(keys_listing_json(), content_type="application/json")
