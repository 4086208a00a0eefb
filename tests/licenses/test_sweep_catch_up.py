"""Rule 5 when the sweep was away: one run walks every state in order, each recorded with its
own effective time, and a second run changes nothing."""

from datetime import UTC, datetime, timedelta

from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.licenses.sweep import sweep
from tests.helpers import PUBLIC_IP
from tests.licenses.support import START, at, customer_with_license, history, renewal_invoices

PERIOD_END = START + timedelta(days=30)  # 2025-10-31 10:00 UTC
CANCELED_AT = PERIOD_END + timedelta(days=7)
RENEWABLE_UNTIL = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def test_license_untouched_for_200_days_walks_every_state_in_one_sweep(
    clock, alice, product, staff
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(START + timedelta(days=200))

    report = sweep()

    assert report.counts == {
        "renewal_invoice": 1,
        "block": 1,
        "cancel": 1,
        "delete": 1,
        "reminder": 0,
    }
    lic = api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "deleted"
    assert at(lic["blocked_at"]) == PERIOD_END
    assert at(lic["canceled_at"]) == CANCELED_AT
    assert at(lic["renewable_until"]) == RENEWABLE_UNTIL
    assert at(lic["deleted_at"]) == RENEWABLE_UNTIL
    assert lic["cancel_reason"] == "unpaid"

    entries = history(api, license_id)
    assert [
        (h["action"], h["before"].get("status"), h["after"]["status"], h["actor"]) for h in entries
    ] == [
        ("license.issued", None, "active", "system:delivery"),
        ("license.blocked", "active", "blocked", "system:sweep"),
        ("license.canceled", "blocked", "canceled", "system:sweep"),
        ("license.deleted", "canceled", "deleted", "system:sweep"),
    ]
    issued, blocked, canceled, deleted = entries
    assert at(issued["at"]) == START
    assert at(blocked["after"]["blocked_at"]) == PERIOD_END
    assert at(blocked["after"]["renewable_until"]) == RENEWABLE_UNTIL
    assert at(canceled["after"]["canceled_at"]) == CANCELED_AT
    assert at(deleted["after"]["deleted_at"]) == RENEWABLE_UNTIL
    assert [h["reason"] for h in entries[1:]] == [
        "period ended unpaid",
        "blocked for 7 days",
        "not renewed within 4 months of blocking",
    ]
    # The renewal invoice issued on the way is void with its license.
    assert [i.status for i in renewal_invoices(license_id)] == ["void"]

    audit_count, invoice_count = AuditEntry.objects.count(), Invoice.objects.count()
    again = sweep()

    assert again.total == 0
    assert len(history(api, license_id)) == 4
    assert AuditEntry.objects.count() == audit_count
    assert Invoice.objects.count() == invoice_count
