"""Rule 5 never waits for the sweep: a payment or an order acts on the license as the rules
have it now, whether or not the sweep has run."""

from datetime import UTC, datetime, timedelta

from licensary.billing.models import Payment
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs
from tests.licenses.support import (
    DAY,
    SECOND,
    START,
    at,
    buy_license,
    customer_with_license,
    history,
    renewal_invoices,
)

PERIOD = timedelta(days=30)
PERIOD_END = START + PERIOD  # 2025-10-31 10:00 UTC
DELETE_AT = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_renewal_paid_after_the_end_without_a_sweep_treats_the_license_as_blocked(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP, credit=1000)
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    [invoice] = renewal_invoices(license_id)

    paid_at = PERIOD_END + 2 * DAY
    clock.move_to(paid_at)
    assert License.objects.get(pk=license_id).status == "active"  # no sweep since
    paid = api.post(f"/invoices/{invoice.pk}/pay-with-credit")

    assert paid.status_code == 200, paid.json_body
    assert account_credit(alice).amount == 0
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert at(lic["period_start"]) == paid_at
    assert at(lic["period_end"]) == paid_at + PERIOD
    entries = history(api, license_id)
    assert [h["action"] for h in entries] == [
        "license.issued",
        "license.blocked",
        "license.renewed",
    ]
    assert at(entries[1]["after"]["blocked_at"]) == PERIOD_END
    assert entries[2]["before"]["status"] == "blocked"


def test_payment_after_the_deletion_date_without_a_sweep_is_refused_and_takes_no_money(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP, credit=1000)
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    [invoice] = renewal_invoices(license_id)

    clock.move_to(DELETE_AT + SECOND)
    assert License.objects.get(pk=license_id).status == "active"  # no sweep since
    refused = api.post(f"/invoices/{invoice.pk}/pay-with-credit")

    assert refused.status_code == 409
    assert refused.json_body["code"] == "license_deleted"
    assert refused["Content-Type"] == "application/problem+json"
    assert account_credit(alice).amount == 1000
    assert Payment.objects.filter(invoice=invoice).count() == 0
    renewing = api.post(f"/licenses/{license_id}/renew")
    assert renewing.status_code == 409
    assert renewing.json_body["code"] == "license_deleted"

    # When the sweep does come, it records the same walk, and the invoice ends void.
    sweep()
    assert [h["action"] for h in history(api, license_id)] == [
        "license.issued",
        "license.blocked",
        "license.canceled",
        "license.deleted",
    ]
    assert [i.status for i in renewal_invoices(license_id)] == ["void"]
    assert account_credit(alice).amount == 1000


def test_license_past_its_deletion_date_frees_its_slot_for_a_new_order_without_a_sweep(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(DELETE_AT + SECOND)
    assert License.objects.get(pk=license_id).status == "active"  # the sweep never ran

    new_license_id = buy_license(api, PUBLIC_IP)

    assert new_license_id != license_id
    assert account_credit(alice).amount == 0
    run_jobs()
    old = api.get(f"/licenses/{license_id}").json_body
    assert (old["status"], at(old["deleted_at"])) == ("deleted", DELETE_AT)
    assert api.get(f"/licenses/{new_license_id}").json_body["status"] == "active"


def test_rule2_an_order_held_for_a_stale_holder_names_the_holders_status_now(
    clock, alice, bob, product, staff
):
    """The slot's holder is found by the rules, not by running the sweep: the hold tells staff
    the status the holder has now (canceled, 10 days after its period ended), not the
    stored one (still active: no sweep has run)."""
    _, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(PERIOD_END + 10 * DAY)
    bob_api = api_for(bob)
    give_credit(bob, 1500, staff)
    order = bob_api.post("/orders", {"product": "panel", "ip": PUBLIC_IP})
    assert order.status_code == 201, order.json_body
    paid = bob_api.post(f"/invoices/{order.json_body['invoice']}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body
    run_jobs()

    held = bob_api.get(f"/orders/{order.json_body['id']}").json_body
    assert held["status"] == "on_hold", held
    detail = Order.objects.get(pk=held["id"]).hold_detail
    assert detail == f"license {license_id} (canceled) of account {alice.pk}", detail
