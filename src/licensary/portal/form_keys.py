"""One-time form keys, for the forms whose answer shows a secret once (a new API token, a new
webhook endpoint's secret, a rotated secret).

The answer to such a POST is the page that shows the secret, so the browser's reload sends the
form again, and would make another token or rotate the secret once more. Each such form
carries a key made when its page was drawn and kept in the session; the POST spends it. A POST
whose key is spent already (or unknown: an old tab after signing in again) makes nothing and
goes back to the page. A POST with no key at all is served as before (a script driving the
portal; the API is the way for those)."""

import secrets

from django.http import HttpRequest

FIELD = "form_key"
SESSION_KEY = "portal_form_keys"
KEPT = 20  # keys issued and not spent, newest last (a few tabs open at once)


def form_key_issue(request: HttpRequest) -> str:
    """A new key for a form on the page being drawn."""
    key = secrets.token_urlsafe(16)
    issued = list(request.session.get(SESSION_KEY, []))[-(KEPT - 1) :]
    request.session[SESSION_KEY] = [*issued, key]
    return key


def form_key_spent(request: HttpRequest) -> bool:
    """Whether the POST carries a key that cannot be spent (sent before); spends it otherwise."""
    key = request.POST.get(FIELD)
    if key is None:
        return False
    issued = list(request.session.get(SESSION_KEY, []))
    if key not in issued:
        return True
    issued.remove(key)
    request.session[SESSION_KEY] = issued
    return False
