"""Rules 4 and 5 walked on the clock: an unpaid license is invoiced, reminded, blocked,
canceled and deleted, each at its moment, and a deleted license only comes back as a new
order that pays the setup fee again."""

from datetime import UTC, datetime, timedelta

import pytest

from licensary.billing.models import Invoice
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs
from tests.licenses.support import (
    DAY,
    SECOND,
    START,
    at,
    buy_license,
    history,
    renewal_invoices,
    take_mail,
)

PERIOD_END = START + timedelta(days=30)  # 2025-10-31 10:00 UTC
INVOICE_AT = PERIOD_END - 7 * DAY
CANCEL_AT = PERIOD_END + 7 * DAY
DELETE_AT = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)  # Oct 31 + 4 months, clamped


def sweep_at(clock, moment: datetime) -> None:
    clock.move_to(moment)
    sweep()
    run_jobs()


def test_unpaid_license_is_invoiced_reminded_blocked_canceled_and_deleted_on_time(
    clock, alice, product, staff
):
    give_credit(alice, 3000, staff)
    api = api_for(alice)
    license_id = buy_license(api, PUBLIC_IP)
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert at(lic["period_end"]) == PERIOD_END
    assert account_credit(alice).amount == 1500
    take_mail()

    # The renewal invoice: 7 days before the period ends, not a second earlier, exactly once.
    sweep_at(clock, INVOICE_AT - SECOND)
    assert renewal_invoices(license_id) == []
    assert take_mail() == []

    sweep_at(clock, INVOICE_AT)
    [invoice] = renewal_invoices(license_id)
    shown = api.get(f"/invoices/{invoice.pk}").json_body
    assert shown["status"] == "unpaid"
    assert [(line["kind"], line["amount"]) for line in shown["lines"]] == [
        ("renewal", {"amount": 1000, "currency": "USD"})
    ]
    assert shown["total"] == {"amount": 1000, "currency": "USD"}
    assert at(shown["issued_at"]) == INVOICE_AT
    assert at(shown["due_at"]) == PERIOD_END
    subject = f"Invoice {invoice.number}: renewal due 2025-10-31"
    assert take_mail() == [(subject, ["alice@example.test"])]
    assert Invoice.objects.get(pk=invoice.pk).reminders_sent == 1

    sweep_at(clock, INVOICE_AT + SECOND)
    assert renewal_invoices(license_id) == [invoice]
    assert take_mail() == []

    # Reminders 3 days and 1 day before the end, each once.
    for days_before, reminders in ((3, 2), (1, 3)):
        sweep_at(clock, PERIOD_END - days_before * DAY - SECOND)
        assert take_mail() == []
        assert Invoice.objects.get(pk=invoice.pk).reminders_sent == reminders - 1

        sweep_at(clock, PERIOD_END - days_before * DAY)
        assert take_mail() == [(f"{subject} (reminder)", ["alice@example.test"])]
        assert Invoice.objects.get(pk=invoice.pk).reminders_sent == reminders

        sweep_at(clock, PERIOD_END - days_before * DAY + SECOND)
        assert take_mail() == []

    # Blocked at the period's end.
    sweep_at(clock, PERIOD_END - SECOND)
    assert api.get(f"/licenses/{license_id}").json_body["status"] == "active"

    sweep_at(clock, PERIOD_END + SECOND)
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "blocked"
    assert at(lic["blocked_at"]) == PERIOD_END
    assert at(lic["renewable_until"]) == DELETE_AT
    assert lic["canceled_at"] is None
    assert take_mail() == [("Your license is blocked: renew it to unblock", ["alice@example.test"])]

    # Canceled 7 days after blocking.
    sweep_at(clock, CANCEL_AT - SECOND)
    assert api.get(f"/licenses/{license_id}").json_body["status"] == "blocked"
    assert take_mail() == []

    sweep_at(clock, CANCEL_AT + SECOND)
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "canceled"
    assert at(lic["canceled_at"]) == CANCEL_AT
    assert lic["cancel_reason"] == "unpaid"
    assert at(lic["blocked_at"]) == PERIOD_END
    assert take_mail() == [
        ("Your license is canceled: it can still be renewed", ["alice@example.test"])
    ]

    # Deleted 4 calendar months after blocking: Oct 31 -> Feb 28.
    sweep_at(clock, DELETE_AT - SECOND)
    assert api.get(f"/licenses/{license_id}").json_body["status"] == "canceled"
    assert Invoice.objects.get(pk=invoice.pk).status == "unpaid"

    sweep_at(clock, DELETE_AT + SECOND)
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "deleted"
    assert at(lic["deleted_at"]) == DELETE_AT
    assert take_mail() == [("Your license is deleted", ["alice@example.test"])]
    assert [h["action"] for h in history(api, license_id)] == [
        "license.issued",
        "license.blocked",
        "license.canceled",
        "license.deleted",
    ]

    # The open renewal invoice is void and the license cannot be paid for or renewed.
    assert api.get(f"/invoices/{invoice.pk}").json_body["status"] == "void"
    paying = api.post(f"/invoices/{invoice.pk}/pay-with-credit")
    assert paying.status_code == 409
    assert paying.json_body["code"] == "license_deleted"
    renewing = api.post(f"/licenses/{license_id}/renew")
    assert renewing.status_code == 409
    assert renewing.json_body["code"] == "license_deleted"
    assert account_credit(alice).amount == 1500
    assert renewal_invoices(license_id) == [invoice]

    # The (product, IP) slot is free: a new order pays the setup fee again.
    order = api.post("/orders", {"product": "panel", "ip": PUBLIC_IP})
    assert order.status_code == 201, order.json_body
    new_invoice = api.get(f"/invoices/{order.json_body['invoice']}").json_body
    assert [(line["kind"], line["amount"]["amount"]) for line in new_invoice["lines"]] == [
        ("license", 1000),
        ("setup_fee", 500),
    ]
    assert api.post(f"/invoices/{new_invoice['id']}/pay-with-credit").status_code == 200
    run_jobs()
    new_license_id = api.get(f"/orders/{order.json_body['id']}").json_body["license"]
    assert new_license_id != license_id
    new_lic = api.get(f"/licenses/{new_license_id}").json_body
    assert new_lic["status"] == "active"
    assert new_lic["ip"] == PUBLIC_IP
    assert at(new_lic["period_end"]) == DELETE_AT + SECOND + timedelta(days=30)
    assert account_credit(alice).amount == 0
    assert list(
        License.objects.filter(ip=PUBLIC_IP).order_by("pk").values_list("status", flat=True)
    ) == ["deleted", "active"]


@pytest.mark.parametrize(
    ("issued", "renewable_until"),
    [
        # Blocked on Oct 31: February has no 31st, nor a 30th or 29th in 2026.
        (datetime(2025, 10, 1, 10, 0, tzinfo=UTC), datetime(2026, 2, 28, 10, 0, tzinfo=UTC)),
        # ... but a 29th in the leap year 2028.
        (datetime(2027, 10, 1, 10, 0, tzinfo=UTC), datetime(2028, 2, 29, 10, 0, tzinfo=UTC)),
        # Blocked on Dec 31: April has 30 days.
        (datetime(2025, 12, 1, 9, 30, tzinfo=UTC), datetime(2026, 4, 30, 9, 30, tzinfo=UTC)),
        # Blocked on Jul 15: the same day four months later.
        (
            datetime(2025, 6, 15, 23, 59, 59, tzinfo=UTC),
            datetime(2025, 11, 15, 23, 59, 59, tzinfo=UTC),
        ),
    ],
)
def test_each_transition_is_due_at_its_exact_moment_and_deletion_four_calendar_months_after_blocking(  # noqa: E501
    clock, alice, product, staff, issued, renewable_until
):
    give_credit(alice, 1500, staff)
    api = api_for(alice)
    clock.move_to(issued)
    license_id = buy_license(api, PUBLIC_IP)
    period_end = issued + timedelta(days=30)

    expected = [
        (period_end, "blocked", "blocked_at", period_end),
        (period_end + 7 * DAY, "canceled", "canceled_at", period_end + 7 * DAY),
        (renewable_until, "deleted", "deleted_at", renewable_until),
    ]
    previous = "active"
    for moment, status, field, value in expected:
        sweep_at(clock, moment - SECOND)
        assert api.get(f"/licenses/{license_id}").json_body["status"] == previous

        sweep_at(clock, moment)
        lic = api.get(f"/licenses/{license_id}").json_body
        assert lic["status"] == status
        assert at(lic[field]) == value
        assert at(lic["renewable_until"]) == renewable_until
        previous = status
