"""The request a ninja handler gets once the API has authenticated it."""

from typing import Generic, TypeVar

from django.http import HttpRequest

AuthT = TypeVar("AuthT")


class AuthedRequest(HttpRequest, Generic[AuthT]):
    """An `HttpRequest` with ninja's `auth` set: what the operation's authenticator returned
    (for `licensary.accounts.auth.AUTH`, the signed-in `User`: `AuthedRequest[User]`). It
    only types handlers' signatures; ninja sets `auth` on the request Django made."""

    auth: AuthT
