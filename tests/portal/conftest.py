"""The portal tests' browsers: a signed-in Django test client per account, enforcing CSRF as
a real browser meets it, and the cast's objects built through the services."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.orders.models import Order
from tests.api.support import delivered_order, unpaid_order
from tests.helpers import OTHER_IP, PUBLIC_IP, csrf_token_for, signed_in_browser


class Browser:
    """A signed-in browser that sends the CSRF token a page of ours put in its form."""

    def __init__(self, user: User | None) -> None:
        self.client = signed_in_browser(user) if user else Client(enforce_csrf_checks=True)
        self.token = csrf_token_for(self.client)

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **extra)

    def post(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.post(path, {"csrfmiddlewaretoken": self.token, **(data or {})}, **extra)


@pytest.fixture
def alice_browser(alice: User) -> Browser:
    return Browser(alice)


@pytest.fixture
def bob_browser(bob: User) -> Browser:
    return Browser(bob)


@pytest.fixture
def alice_license(alice: User, product: Product, staff: User) -> Order:
    """alice's delivered order for `product` on PUBLIC_IP: its license is active."""
    return delivered_order(alice, product, PUBLIC_IP, staff)


@pytest.fixture
def alice_unpaid(alice: User, product: Product) -> Order:
    """alice's order on OTHER_IP whose invoice is still unpaid."""
    return unpaid_order(alice, product, OTHER_IP)
