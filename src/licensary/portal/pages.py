"""What every portal page does before its own work: the visitor is signed in (else the
sign-in page), has accepted the latest terms (else the terms prompt), and a refusal of a
service becomes the page that explains its code."""

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

from licensary.accounts.models import User
from licensary.accounts.services import account_require_in_good_standing
from licensary.core.errors import AccountBanned, DomainError, TermsNotAccepted
from licensary.portal.errors import domain_error_page

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)
View = Callable[Concatenate[HttpRequest, User, P], R]


def signed_in_user(request: HttpRequest) -> User | None:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user if isinstance(user, User) else None


def staff_needs_code(request: HttpRequest, user: User) -> bool:
    """A staff member with a confirmed authenticator who has not given its code in this
    session (the admin asks the same through django-otp; the console must not be a way round
    it)."""
    verified = getattr(request.user, "is_verified", lambda: False)()
    return user.is_staff_account and not verified and user_has_device(user, confirmed=True)


def page(view: View[P, R]) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    """A portal page: `view(request, user, ...)` for a signed-in account that accepted the
    latest terms; a `DomainError` it raises is answered with that code's page and status."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
        user = signed_in_user(request)
        if user is None:
            return redirect_to_login(request.get_full_path())
        try:
            # The same rule the services apply before ordering and paying (rules 1 and 6).
            account_require_in_good_standing(user)
        except TermsNotAccepted:
            target = reverse("portal:terms")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        except AccountBanned:
            pass  # a banned account still reads its pages; every action says account_banned
        try:
            return view(request, user, *args, **kwargs)
        except DomainError as exc:
            return domain_error_page(request, exc)

    return wrapper
