"""The client library against the real server: valid, then blocked, then an outage."""

from datetime import UTC, datetime, timedelta

import pytest

from licensary.billing.services import invoice_pay_with_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.services import order_create
from licensary_client.client import State, check
from tests.helpers import give_credit, run_jobs


@pytest.mark.django_db(transaction=True)
def test_licensed_server_checks_its_license_and_stops_when_blocked(
        live_server, alice, product, staff, settings, tmp_path):
    settings.LICENSARY = {**settings.LICENSARY, "ALLOW_PRIVATE_IPS": True}
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip="127.0.0.1")
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    lic = License.objects.get()

    valid = check(live_server.url, "panel", state_dir=tmp_path)
    assert valid.state is State.VALID and valid.state.exit_code == 0

    # The server is unreachable: the cached document carries it through the grace period.
    later = datetime.now(UTC) + timedelta(hours=71)
    outage = check("http://127.0.0.1:9", "panel", state_dir=tmp_path, now=later)
    assert outage.state is State.UNREACHABLE_PAST_GRACE  # another server URL has no cache
    again = check(live_server.url.replace("localhost", "127.0.0.1"), "panel",
                  state_dir=tmp_path)
    assert again.state is State.VALID

    ended = datetime.now(UTC) - timedelta(seconds=1)
    License.objects.filter(pk=lic.pk).update(period_start=ended - timedelta(days=30),
                                             period_end=ended)
    sweep()
    blocked = check(live_server.url, "panel", state_dir=tmp_path)
    assert blocked.state is State.NOT_ACTIVE and blocked.state.exit_code == 1
