from collections.abc import Iterator

import pytest

from tests.payments.fake_stripe import WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def fake_stripe(settings) -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.thread.start()
    settings.STRIPE_API_KEY = "sk_test_licensary"
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield server
    server.shutdown()
    server.server_close()
