"""Rule 6: a banned account still signs in to read its history, and nothing else. The API's
authentication refuses a banned account's writes up front; the services refuse them as well, so
the portals (which call the services) and any later caller make nothing for it either."""

import pytest

from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import account_create, token_create
from licensary.core.errors import AccountBanned
from licensary.governance.bans import account_ban
from licensary.notifications.models import WebhookEndpoint
from licensary.notifications.services import (
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)

pytestmark = pytest.mark.django_db

HOOK = {"url": "https://93.184.216.34/in", "events": ["invoice.paid"]}


def test_a_banned_customer_makes_no_api_token(alice: User, staff: User) -> None:
    account_ban(account=alice, actor=staff, reason="sharing", note="resold access")
    alice.refresh_from_db()

    with pytest.raises(AccountBanned):
        token_create(user=alice, name="again", scopes=["read"], actor=alice)
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()


def test_a_banned_agent_makes_no_customer_and_no_webhook(carol: User, staff: User) -> None:
    account_ban(account=carol, actor=staff, reason="tampering", note="patched the binary")
    carol.refresh_from_db()

    with pytest.raises(AccountBanned):
        account_create(actor=carol, kind="customer", email="new@x.test")
    with pytest.raises(AccountBanned):
        endpoint_create(actor=carol, **HOOK)
    assert not User.objects.filter(email="new@x.test").exists()
    assert not WebhookEndpoint.objects.filter(agent=carol).exists()


def test_a_banned_agent_changes_none_of_its_endpoints(carol: User, staff: User) -> None:
    endpoint, secret = endpoint_create(actor=carol, **HOOK)
    account_ban(account=carol, actor=staff, reason="tampering", note="patched the binary")
    carol.refresh_from_db()
    endpoint.refresh_from_db()

    for change in (
        lambda: endpoint_rotate_secret(endpoint=endpoint, actor=carol),
        lambda: endpoint_test(endpoint=endpoint, actor=carol),
        lambda: endpoint_update(endpoint=endpoint, actor=carol, status="enabled"),
    ):
        with pytest.raises(AccountBanned):
            change()
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_sealed in ("", None)
