"""Rule 4: what a paid renewal buys, and `POST /licenses/{id}/renew`."""

from datetime import timedelta

from licensary.ledger.services import account_credit
from licensary.licenses.sweep import sweep
from tests.helpers import PUBLIC_IP, run_jobs
from tests.licenses.support import (
    DAY,
    START,
    at,
    customer_with_license,
    history,
    renewal_invoices,
)

PERIOD = timedelta(days=30)
PERIOD_END = START + PERIOD  # 2025-10-31 10:00 UTC


def pay(api, invoice_id) -> dict:
    paid = api.post(f"/invoices/{invoice_id}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body
    run_jobs()
    return paid.json_body


def test_renewal_paid_before_the_end_extends_thirty_days_from_the_old_end(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP, credit=2000)
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    [invoice] = renewal_invoices(license_id)

    clock.move_to(PERIOD_END - 2 * DAY)
    paid = pay(api, invoice.pk)

    assert paid["status"] == "paid"
    assert paid["total"] == {"amount": 1000, "currency": "USD"}
    assert [line["kind"] for line in paid["lines"]] == ["renewal"]
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert at(lic["period_start"]) == PERIOD_END
    assert at(lic["period_end"]) == PERIOD_END + PERIOD
    line = api.get(f"/invoices/{invoice.pk}").json_body["lines"][0]
    assert (at(line["period_start"]), at(line["period_end"])) == (PERIOD_END, PERIOD_END + PERIOD)
    assert account_credit(alice).amount == 1000
    [renewed] = [h for h in history(api, license_id) if h["action"] == "license.renewed"]
    assert at(renewed["at"]) == PERIOD_END - 2 * DAY
    assert renewed["reason"] == "renewal paid"

    # The old end passes without a block, and the next invoice comes 7 days before the new end.
    clock.move_to(PERIOD_END + DAY)
    assert sweep().counts.get("block", 0) == 0
    assert api.get(f"/licenses/{license_id}").json_body["status"] == "active"
    clock.move_to(PERIOD_END + PERIOD - 7 * DAY)
    sweep()
    assert [i.status for i in renewal_invoices(license_id)] == ["paid", "unpaid"]


def test_blocked_license_renews_from_the_payment_without_setup_fee(clock, alice, product, staff):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP, credit=1000)
    clock.move_to(PERIOD_END + DAY)
    sweep()
    assert api.get(f"/licenses/{license_id}").json_body["status"] == "blocked"
    [invoice] = renewal_invoices(license_id)

    paid_at = PERIOD_END + 3 * DAY + timedelta(hours=5)
    clock.move_to(paid_at)
    paid = pay(api, invoice.pk)

    assert [(line["kind"], line["amount"]["amount"]) for line in paid["lines"]] == [
        ("renewal", 1000)
    ]
    assert account_credit(alice).amount == 0
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert at(lic["period_start"]) == paid_at
    assert at(lic["period_end"]) == paid_at + PERIOD
    assert (lic["blocked_at"], lic["canceled_at"], lic["renewable_until"]) == (None, None, None)
    assert [h["action"] for h in history(api, license_id)] == [
        "license.issued",
        "license.blocked",
        "license.renewed",
    ]


def test_canceled_license_renews_without_setup_fee(clock, alice, product, staff):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP, credit=1000)
    clock.move_to(PERIOD_END + 10 * DAY)
    sweep()
    lic = api.get(f"/licenses/{license_id}").json_body
    assert (lic["status"], lic["cancel_reason"]) == ("canceled", "unpaid")
    [invoice] = renewal_invoices(license_id)

    paid_at = PERIOD_END + 40 * DAY
    clock.move_to(paid_at)
    renewal = api.post(f"/licenses/{license_id}/renew")
    assert renewal.status_code == 200, renewal.json_body
    assert renewal.json_body["id"] == str(invoice.pk)
    paid = pay(api, invoice.pk)

    assert paid["total"] == {"amount": 1000, "currency": "USD"}
    assert [line["kind"] for line in paid["lines"]] == ["renewal"]
    assert account_credit(alice).amount == 0
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert at(lic["period_start"]) == paid_at
    assert at(lic["period_end"]) == paid_at + PERIOD
    assert lic["cancel_reason"] is None
    assert [h["action"] for h in history(api, license_id)] == [
        "license.issued",
        "license.blocked",
        "license.canceled",
        "license.renewed",
    ]


def test_renew_returns_the_open_renewal_invoice_instead_of_issuing_a_second(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(PERIOD_END - 7 * DAY)
    sweep()
    [invoice] = renewal_invoices(license_id)

    clock.move_to(PERIOD_END - 5 * DAY)
    first = api.post(f"/licenses/{license_id}/renew")
    second = api.post(f"/licenses/{license_id}/renew")

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json_body["id"] == second.json_body["id"] == str(invoice.pk)
    assert first.json_body["status"] == "unpaid"
    assert renewal_invoices(license_id) == [invoice]


def test_renew_issues_a_renewal_invoice_when_there_is_none(clock, alice, product, staff):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(START + 2 * DAY)

    issued = api.post(f"/licenses/{license_id}/renew")

    assert issued.status_code == 200, issued.json_body
    invoice = issued.json_body
    assert invoice["status"] == "unpaid"
    assert invoice["purpose"] == "renewal"
    assert [
        (line["kind"], line["amount"]["amount"], line["license"]) for line in invoice["lines"]
    ] == [("renewal", 1000, license_id)]
    assert at(invoice["issued_at"]) == START + 2 * DAY
    assert at(invoice["due_at"]) == PERIOD_END
    assert [str(i.pk) for i in renewal_invoices(license_id)] == [invoice["id"]]
    again = api.post(f"/licenses/{license_id}/renew")
    assert again.json_body["id"] == invoice["id"]
    # The sweep does not issue another when the notice time comes.
    clock.move_to(PERIOD_END - 7 * DAY)
    assert sweep().counts.get("renewal_invoice", 0) == 0
    assert [str(i.pk) for i in renewal_invoices(license_id)] == [invoice["id"]]
    # Paid early, it extends from the old end like any renewal.
    pay(api, invoice["id"])
    lic = api.get(f"/licenses/{license_id}").json_body
    assert (at(lic["period_start"]), at(lic["period_end"])) == (PERIOD_END, PERIOD_END + PERIOD)
