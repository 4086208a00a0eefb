"""API tokens: made with scopes and an optional expiry, listed, revoked. The text of a token
is in the answer that makes it, and nowhere else, ever."""

from django.db.models import QuerySet
from ninja import Router, Status

from licensary.accounts.models import ApiToken, User
from licensary.accounts.schemas import TokenCreatedOut, TokenIn, TokenOut, token_out
from licensary.accounts.services import token_create, token_revoke
from licensary.core.api import Cursor, Limit, Page, get_visible, paginate
from licensary.core.http import AuthedRequest
from licensary.core.text import Id

router = Router(tags=["tokens"])


def _own_tokens(user: User) -> QuerySet[ApiToken]:
    # Staff too see only their own here: another account's tokens are its own business
    # (staff revoke them in the console, or by banning).
    return ApiToken.objects.filter(user=user)


# Not under an Idempotency-Key: a replayed answer would have to keep the token's text.
@router.post("/tokens", response={201: TokenCreatedOut}, summary="Make an API token")
def create_token(request: AuthedRequest[User], payload: TokenIn) -> Status:
    token, text = token_create(
        user=request.auth,
        name=payload.name,
        scopes=payload.scopes,
        expires_at=payload.expires_at,
        actor=request.auth,
        granted_by=getattr(request, "api_token", None),
    )
    return Status(201, {**token_out(token), "token": text})


@router.get("/tokens", response=Page[TokenOut], summary="The calling account's API tokens")
def list_tokens(
    request: AuthedRequest[User], limit: Limit = 50, cursor: Cursor | None = None
) -> dict:
    return paginate(_own_tokens(request.auth), limit=limit, cursor=cursor, render=token_out)


@router.get("/tokens/{token_id}", response=TokenOut)
def get_token(request: AuthedRequest[User], token_id: Id) -> dict:
    return token_out(get_visible(_own_tokens(request.auth), token_id))


@router.post("/tokens/{token_id}/revoke", response=TokenOut, summary="End a token for good")
def revoke_token(request: AuthedRequest[User], token_id: Id) -> dict:
    token = get_visible(_own_tokens(request.auth), token_id)
    return token_out(token_revoke(token=token, actor=request.auth))
