"""The portal's language: the one chosen in this browser (the language cookie, set by
Django's `set_language` view), else the signed-in account's own (`User.language`, the one its
mail is written in), else English. A browser's Accept-Language is not a choice: English stays
the default until someone picks Persian."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

SUPPORTED = {code for code, _ in settings.LANGUAGES}


def chosen_language(request: HttpRequest) -> str:
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in SUPPORTED:
        return chosen
    user: Any = getattr(request, "user", None)
    own = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
    return own if own in SUPPORTED else "en"


class PortalLanguageMiddleware:
    """Activates the chosen language for the portal's pages only; the API and the admin keep
    theirs (the API's texts are English, its codes stable). Runs after authentication."""

    PREFIX = "/portal/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.PREFIX):
            return self.get_response(request)
        language = chosen_language(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
            response.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie"])
        return response
