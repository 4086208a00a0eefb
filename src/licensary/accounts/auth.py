"""How an API request says who it is: a bearer token, or a signed-in browser's session."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from licensary.accounts.models import User
from licensary.accounts.scopes import route_scope
from licensary.accounts.services import token_authenticate
from licensary.core.errors import AccountBanned, PermissionDenied

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What a banned account may still call (rule 6): its history, and its own account (which says
# it is banned). Signing in is the console's and the portals' own page, not an API call.
BANNED_MAY_READ = frozenset({"/api/v1/account", "/api/v1/account/history"})


def admitted(request: HttpRequest, user: User | None) -> User | None:
    """A banned account reads its history and does nothing else (rule 6): `account_banned`
    on every other call, whichever way it signed in."""
    if (
        user is not None
        and user.status == User.Status.BANNED
        and not (request.method in SAFE_METHODS and request.path_info in BANNED_MAY_READ)
    ):
        raise AccountBanned(
            "This account is banned; it can only read its history (GET /api/v1/account/history)."
        )
    return user


class BearerAuth(HttpBearer):
    """A token, held to its scopes (`accounts.scopes`): a call outside them is
    `permission_denied`, saying which scope it needs."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = token_authenticate(token)
        if found is None:
            return None
        user = admitted(request, found.user)
        match = request.resolver_match
        needed = route_scope(request.method or "", match.route if match else "")
        if needed is None or needed not in found.scopes:
            raise PermissionDenied(
                f"This token has no {needed or 'scope for this'} scope "
                f"(it has: {', '.join(found.scopes)}).",
                extra={"required_scope": needed},
            )
        request.api_token = found  # type: ignore[attr-defined]
        return user


class SessionAuth(APIKeyCookie):
    """The session cookie of a browser signed in to the console or a portal. A write made with
    it must carry Django's CSRF token (ASVS 3.5.1): a page elsewhere can make the browser send
    the cookie, never the token. A bearer token needs none, and is tried first."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        # Django's own check (CsrfViewMiddleware): safe methods pass; otherwise the
        # X-CSRFToken header must match the csrftoken cookie, and the Origin must be ours.
        if check_csrf(request) is not None:
            raise PermissionDenied(
                "CSRF verification failed: a request signed in by the session cookie must send "
                "Django's CSRF token (the X-CSRFToken header, from the csrftoken cookie)."
            )
        return admitted(request, user)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return None  # `__call__` decides from the session, not from the cookie's value


AUTH = [BearerAuth(), SessionAuth()]
