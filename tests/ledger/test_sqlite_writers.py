"""Eight writers at once on the embedded database: with `transaction_mode=IMMEDIATE` and a busy
timeout they queue up behind each other, and none sees "database is locked"
(RELIABILITY "Concurrency"). Runs on SQLite's file test database, and on PostgreSQL too."""

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum

from licensary.accounts.services import account_credit_adjust
from licensary.audit.models import AuditEntry
from licensary.audit.services import audit_verify
from licensary.ledger.models import Posting
from licensary.ledger.services import account_credit
from tests.concurrency import run_concurrently
from tests.helpers import make_account

WRITERS = 8
WRITES = 200


@pytest.mark.django_db(transaction=True)
def test_eight_writers_of_two_hundred_credit_adjustments_never_see_a_locked_database(staff):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's writer lock is what this measures; PostgreSQL has row locks")
    assert connection.settings_dict["NAME"] != ":memory:"
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    accounts = [make_account(f"writer{i}@example.test") for i in range(WRITERS)]

    def write(i: int) -> list[str]:
        failures = []
        for n in range(WRITES):
            try:
                account_credit_adjust(
                    account=accounts[i], amount=n + 1, actor=staff, note=f"writer {i} write {n}"
                )
            except OperationalError as exc:  # counted, not raised: every one is a failure
                failures.append(str(exc))
        return failures

    results = run_concurrently(write, WRITERS, timeout=600)

    crashed = [r for r in results if isinstance(r, BaseException)]
    assert crashed == []
    failures = [message for messages in results for message in messages]
    assert [m for m in failures if "database is locked" in m] == []
    assert failures == []
    expected = WRITES * (WRITES + 1) // 2
    assert [account_credit(account).amount for account in accounts] == [expected] * WRITERS
    assert Posting.objects.aggregate(total=Sum("amount"))["total"] == 0
    assert AuditEntry.objects.filter(action="credit.adjusted").count() == WRITERS * WRITES
    report = audit_verify()
    assert (report.first_broken, report.problem) == (None, "")
