"""The webhook tests' pieces: a receiver on 127.0.0.1 (private addresses allowed, as in
development), a clock moved by hand, and carol's endpoints registered through the API."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from licensary.accounts.models import User
from tests.api.conftest import erin, frank
from tests.helpers import Api, api_for
from tests.notifications.receiver import Receiver

__all__ = ["erin", "frank"]  # agent B and her customer

EVERY_EVENT = [
    "order.completed",
    "order.on_hold",
    "invoice.issued",
    "invoice.paid",
    "license.renewed",
    "license.blocked",
    "license.canceled",
    "license.deleted",
    "license.ip_changed",
    "transfer.*",
    "claim.*",
]


@pytest.fixture
def private_ips(settings: Any) -> None:
    """LICENSARY_ALLOW_PRIVATE_IPS, as in development: a receiver on 127.0.0.1 over http."""
    settings.LICENSARY = {**settings.LICENSARY, "ALLOW_PRIVATE_IPS": True}


@pytest.fixture
def receiver(private_ips: None) -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """A frozen clock the test moves forward by hand (`clock.shift(seconds)`)."""
    start: datetime = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


@pytest.fixture
def carol_api(carol: User) -> Api:
    return api_for(carol)


def register(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """An endpoint made through the API; its answer (with the secret shown once)."""
    made = api.post("/webhooks", {"url": url, "events": events or EVERY_EVENT})
    assert made.status_code == 201, made.json_body
    return made.json_body


def deliveries(api: Api, webhook: dict[str, Any]) -> list[dict[str, Any]]:
    page = api.get(f"/webhooks/{webhook['id']}/deliveries")
    assert page.status_code == 200, page.json_body
    return page.json_body["items"]
