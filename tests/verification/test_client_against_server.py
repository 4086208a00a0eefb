"""The client library against the real server: valid, then blocked, then an outage; and a
key rotation followed end to end."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from licensary.billing.services import invoice_pay_with_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.services import order_create
from licensary.verification.keys import keys_retire, keys_rotate
from licensary_client.client import State, check
from tests.helpers import give_credit, run_jobs


def licensed_on_loopback(alice, product, staff, settings) -> None:
    """Alice pays for a license on 127.0.0.1, the address the live server sees the client at."""
    settings.LICENSARY = {**settings.LICENSARY, "ALLOW_PRIVATE_IPS": True}
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip="127.0.0.1")
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()


@pytest.mark.django_db(transaction=True)
def test_licensed_server_checks_its_license_and_stops_when_blocked(
    live_server, alice, product, staff, settings, tmp_path
):
    licensed_on_loopback(alice, product, staff, settings)
    lic = License.objects.get()

    valid = check(live_server.url, "panel", state_dir=tmp_path)
    assert valid.state is State.VALID and valid.state.exit_code == 0

    # The server is unreachable: the cached document carries it through the grace period.
    later = datetime.now(UTC) + timedelta(hours=71)
    outage = check("http://127.0.0.1:9", "panel", state_dir=tmp_path, now=later)
    assert outage.state is State.UNREACHABLE_PAST_GRACE  # another server URL has no cache
    again = check(live_server.url.replace("localhost", "127.0.0.1"), "panel", state_dir=tmp_path)
    assert again.state is State.VALID

    ended = datetime.now(UTC) - timedelta(seconds=1)
    License.objects.filter(pk=lic.pk).update(
        period_start=ended - timedelta(days=30), period_end=ended
    )
    sweep()
    blocked = check(live_server.url, "panel", state_dir=tmp_path)
    assert blocked.state is State.NOT_ACTIVE and blocked.state.exit_code == 1


def _trusted(state_dir: Path) -> list[str]:
    (keys_file,) = state_dir.glob("keys-*.json")
    return [entry["key_id"] for entry in json.loads(keys_file.read_text())["keys"]]


def _signed_by(state_dir: Path) -> str:
    (document_file,) = state_dir.glob("document-*.json")
    return json.loads(document_file.read_text())["key_id"]


@pytest.mark.django_db(transaction=True)
def test_key_rotation_a_licensed_server_follows_a_staged_rotation_without_help(
    live_server, alice, product, staff, settings, tmp_path
):
    licensed_on_loopback(alice, product, staff, settings)
    assert check(live_server.url, "panel", state_dir=tmp_path).state is State.VALID
    (old_id,) = _trusted(tmp_path)

    new = keys_rotate()
    assert check(live_server.url, "panel", state_dir=tmp_path).state is State.VALID
    assert _signed_by(tmp_path) == old_id  # published, not signing yet

    with time_machine.travel(new.activates_at + timedelta(minutes=1)):
        # The first answer signed by the new key: the client fetches the list again and
        # believes it because the old key, which it trusts, signed it too.
        assert check(live_server.url, "panel", state_dir=tmp_path).state is State.VALID
        assert _signed_by(tmp_path) == new.key_id
        assert _trusted(tmp_path) == [old_id, new.key_id]
        keys_retire(key_id=old_id)

    with time_machine.travel(new.activates_at + timedelta(days=1, hours=1)):
        # Its list is a day old: refreshed, and the retired key is no longer trusted.
        assert check(live_server.url, "panel", state_dir=tmp_path).state is State.VALID
        assert _trusted(tmp_path) == [new.key_id]

        # A compromised key: nothing it signed can vouch for the replacement, so a client that
        # trusted only it is stranded on purpose and refuses the answers until re-provisioned.
        urgent = keys_rotate(now=True)
        stranded = check(live_server.url, "panel", state_dir=tmp_path)
        assert (stranded.state, stranded.reason) == (State.INVALID, "unknown_key")
        assert _trusted(tmp_path) == [new.key_id]
        for keys_file in tmp_path.glob("keys-*.json"):
            keys_file.unlink()
        assert check(live_server.url, "panel", state_dir=tmp_path).state is State.VALID
        assert _signed_by(tmp_path) == urgent.key_id
