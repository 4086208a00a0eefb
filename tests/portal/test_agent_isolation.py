"""Nobody but the agent reaches its panel: every URL pattern of agent_urls, filled with carol's
objects (her customer dave, her token, her webhook endpoint and its delivery), is walked as
another agent (erin), as carol's own customer (dave), as a plain customer (alice) and as
staff: each page and each action is `not_found`, and nothing changes. The walk is made from
the URL patterns themselves, so a new page is walked the day it is added (a pattern with a
parameter the walk does not know fails here)."""

from typing import Any

import pytest
from django.urls import URLPattern, reverse

from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import token_create
from licensary.catalog.models import Product
from licensary.notifications.models import WebhookEndpoint, WebhookMessage
from licensary.notifications.services import endpoint_create, endpoint_test
from licensary.orders.models import Order
from licensary.portal import agent_urls
from tests.api.conftest import erin, frank
from tests.helpers import PUBLIC_IP
from tests.portal.conftest import Browser

__all__ = ["erin", "frank"]  # fixtures, used by name

# A form that each of the panel's pages would accept from its own agent: a refusal cannot be
# the form's, it must be the page's.
VALID_POST = {
    "email": "walker@example.test",
    "password": "",
    "product": "panel",
    "ip": PUBLIC_IP,
    "scopes": ["read"],
    "url": "https://93.184.216.34/walk",
    "events": ["claim.*"],
    "status": "disabled",
}


@pytest.fixture
def carols(carol: User, dave: User, product: Product) -> dict[str, int]:
    """carol's objects, by the URL parameter that names them."""
    token, _text = token_create(user=carol, scopes=["read"], actor=carol)
    endpoint, _secret = endpoint_create(
        actor=carol, url="https://93.184.216.34/hooks", events=["claim.*"]
    )
    message = endpoint_test(endpoint=endpoint, actor=carol)
    return {
        "customer_id": dave.pk,
        "token_id": token.pk,
        "webhook_id": endpoint.pk,
        "delivery_id": message.pk,
    }


def patterns() -> list[URLPattern]:
    found = [p for p in agent_urls.urlpatterns if isinstance(p, URLPattern)]
    assert len(found) == len(agent_urls.urlpatterns)  # no include() hides a page from the walk
    return found


def parameters(pattern: URLPattern) -> list[str]:
    return list(pattern.pattern.converters)


def url_of(pattern: URLPattern, objects: dict[str, int]) -> str:
    return reverse(
        f"portal:{pattern.name}", kwargs={name: objects[name] for name in parameters(pattern)}
    )


def state(carol: User) -> tuple[Any, ...]:
    endpoint = WebhookEndpoint.objects.get(agent=carol)
    return (
        sorted(User.objects.values_list("pk", "email", "agent_id", "identity")),
        list(ApiToken.objects.order_by("pk").values_list("pk", "user_id", "revoked_at")),
        (endpoint.status, endpoint.secret_sealed, endpoint.url),
        list(WebhookMessage.objects.order_by("pk").values_list("pk", "status", "next_attempt_at")),
        Order.objects.count(),
    )


def test_the_walk_covers_every_pattern_and_knows_every_parameter(carols: dict[str, int]) -> None:
    unknown = {name for p in patterns() for name in parameters(p)} - set(carols)
    assert unknown == set()
    assert len(patterns()) >= 15


@pytest.mark.parametrize("who", ["dave", "alice", "staff"])
def test_a_customer_an_agent_s_customer_or_staff_meets_not_found_everywhere(
    who: str, request: Any, carol: User, carols: dict[str, int]
) -> None:
    browser = Browser(request.getfixturevalue(who))
    before = state(carol)
    urls = [url_of(p, carols) for p in patterns()]
    pages = {url: browser.get(url).status_code for url in urls}
    actions = {url: browser.post(url, VALID_POST).status_code for url in urls}
    assert pages == dict.fromkeys(urls, 404)
    assert actions == dict.fromkeys(urls, 404)
    assert 'data-code="not_found"' in browser.get("/portal/agent/").content.decode()
    assert state(carol) == before


def test_another_agent_meets_not_found_for_each_of_carol_s_objects(
    erin: User, carol: User, carols: dict[str, int]
) -> None:
    browser, own = Browser(erin), Browser(carol)
    before = state(carol)
    with_objects = [p for p in patterns() if parameters(p)]
    urls = [url_of(p, carols) for p in with_objects]
    # A page only POSTed to answers 405 to any GET, whosever id it names: carol's answer
    # says which pages those are.
    expected_get = {url: 405 if own.get(url).status_code == 405 else 404 for url in urls}
    pages = {url: browser.get(url).status_code for url in urls}
    actions = {url: browser.post(url, VALID_POST).status_code for url in urls}
    assert pages == expected_get
    assert actions == dict.fromkeys(urls, 404)
    assert state(carol) == before


def test_another_agent_s_own_pages_show_nothing_of_carol_s(
    erin: User, carol: User, dave: User, carols: dict[str, int]
) -> None:
    browser = Browser(erin)
    token = ApiToken.objects.get(pk=carols["token_id"])
    seen = "".join(
        browser.get(url_of(p, carols)).content.decode() for p in patterns() if not parameters(p)
    )
    assert dave.email not in seen
    assert "93.184.216.34/hooks" not in seen
    assert token.prefix not in seen
