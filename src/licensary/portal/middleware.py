"""The portal's language and time zone.

Language: a signed-in account reads its own (`User.language`, the one its mail is written
in too; the top bar's switch and the account page set it); anyone else the one chosen in this
browser (the language cookie, which the switch also sets), else English. A browser's
Accept-Language is not a choice: English stays the default until someone picks Persian.

Time zone: a signed-in account's dates and times are shown in its own (`User.time_zone`,
chosen on the account page); anyone else's in UTC. Stored times stay UTC."""

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

SUPPORTED = {code for code, _ in settings.LANGUAGES}


def _account(request: HttpRequest) -> Any:
    user: Any = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def chosen_language(request: HttpRequest) -> str:
    account = _account(request)
    own = getattr(account, "language", "") if account is not None else ""
    if own in SUPPORTED:
        return own
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in SUPPORTED else "en"


def chosen_time_zone(request: HttpRequest) -> zoneinfo.ZoneInfo:
    account = _account(request)
    name = getattr(account, "time_zone", "") if account is not None else ""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")  # a zone the system's tz database no longer has


class PortalLanguageMiddleware:
    """Activates the chosen language and time zone for the portal's pages only; the API and
    the admin keep theirs (the API's texts are English, its codes stable, its times UTC).
    Runs after authentication."""

    PREFIX = "/portal/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.PREFIX):
            return self.get_response(request)
        language = chosen_language(request)
        with translation.override(language), timezone.override(chosen_time_zone(request)):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
            response.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response
