"""Staff put credit on an account, or take it off, with a note saying why: one adjustment in
the ledger against `adjustments`, and one audit entry; nobody else may, and never without a
note."""

import pytest

from licensary.accounts.services import account_credit_adjust
from licensary.audit.models import AuditEntry
from licensary.core.errors import InsufficientCredit, PermissionDenied, ValidationFailed
from licensary.core.money import Money
from licensary.ledger.models import LedgerAccount, LedgerTransaction
from licensary.ledger.services import account_credit, balance


def test_staff_credit_an_account_through_the_ledger_with_one_audit_entry(alice, staff):
    credit = account_credit_adjust(account=alice, amount=700, note="goodwill", actor=staff)

    assert credit == Money(700, alice.currency)
    assert account_credit(alice) == Money(700, alice.currency)
    txn = LedgerTransaction.objects.get(kind="adjustment")
    assert (txn.memo, txn.actor_id) == ("goodwill", staff.pk)
    adjustments = LedgerAccount.objects.get(key=f"adjustments:{alice.currency}")
    assert balance(adjustments) == -700
    entry = AuditEntry.objects.get(action="credit.adjusted")
    assert (entry.object_id, entry.reason) == (str(alice.pk), "goodwill")


def test_staff_take_credit_off_but_never_below_zero(alice, staff):
    account_credit_adjust(account=alice, amount=700, note="goodwill", actor=staff)

    assert account_credit_adjust(
        account=alice, amount=-200, note="over-credited", actor=staff
    ) == Money(500, alice.currency)
    with pytest.raises(InsufficientCredit):
        account_credit_adjust(account=alice, amount=-501, note="too much", actor=staff)
    assert account_credit(alice) == Money(500, alice.currency)


def test_only_staff_adjust_credit_and_always_with_a_note(alice, bob, staff):
    with pytest.raises(PermissionDenied):
        account_credit_adjust(account=alice, amount=700, note="a gift", actor=bob)
    with pytest.raises(PermissionDenied):
        account_credit_adjust(account=alice, amount=700, note="to myself", actor=alice)
    with pytest.raises(ValidationFailed):
        account_credit_adjust(account=alice, amount=700, note="  ", actor=staff)

    assert account_credit(alice) == Money(0, alice.currency)
    assert not LedgerTransaction.objects.exists()
    assert not AuditEntry.objects.filter(action="credit.adjusted").exists()
