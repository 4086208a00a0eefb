"""Rule 14 in the database: every ledger transaction sums to zero per currency, and postings
and audit entries are never edited or deleted."""

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from licensary.audit.models import AuditEntry
from licensary.core.errors import InsufficientCredit
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting
from licensary.ledger.services import (
    Leg,
    UnbalancedTransaction,
    balance,
    credit_book,
    post_entry,
    system_book,
)
from tests.concurrency import TRIGGERS, require_postgres
from tests.helpers import give_credit


def forge(kind: str, *amounts: tuple[LedgerAccount, int]) -> LedgerTransaction:
    """Write a transaction straight through the ORM, around `post_entry`."""
    txn = LedgerTransaction.objects.create(kind=kind, created_at=timezone.now())
    for account, amount in amounts:
        Posting.objects.create(
            transaction=txn, account=account, amount=amount, currency=account.currency
        )
    return txn


@pytest.fixture
def books(alice):
    return {
        "credit": credit_book(alice),
        "sales": system_book(LedgerAccount.Code.SALES, "USD"),
        "sales_eur": system_book(LedgerAccount.Code.SALES, "EUR"),
        "adjustments": system_book(LedgerAccount.Code.ADJUSTMENTS, "USD"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "legs",
    [
        [("adjustments", -100), ("credit", 99)],
        [("adjustments", -100), ("sales_eur", 100)],  # zero in total, but not per currency
        [("adjustments", -100)],
        [("adjustments", 100), ("credit", 0)],
    ],
    ids=["off_by_one", "across_currencies", "one_leg", "zero_leg"],
)
def test_post_entry_refuses_legs_that_do_not_balance(books, legs):
    with pytest.raises(UnbalancedTransaction), transaction.atomic():
        post_entry(kind="adjustment", legs=[Leg(books[name], amount) for name, amount in legs])

    assert LedgerTransaction.objects.count() == 0
    assert Posting.objects.count() == 0


@pytest.mark.django_db
def test_post_entry_writes_a_balanced_transaction_with_one_posting_per_leg(books):
    with transaction.atomic():
        txn = post_entry(
            kind="adjustment", legs=[Leg(books["adjustments"], -250), Leg(books["credit"], 250)]
        )

    assert sorted(txn.postings.values_list("account__key", "amount", "currency")) == sorted(
        [(books["adjustments"].key, -250, "USD"), (books["credit"].key, 250, "USD")]
    )
    assert balance(books["credit"]) == 250


@pytest.mark.django_db(transaction=True)
def test_post_entry_runs_only_inside_the_use_case_transaction(books):
    with pytest.raises(RuntimeError, match="inside the use case's transaction"):
        post_entry(kind="adjustment", legs=[Leg(books["adjustments"], -1), Leg(books["credit"], 1)])

    assert Posting.objects.count() == 0


@pytest.mark.django_db
def test_post_entry_refuses_to_take_credit_below_zero(alice, books, staff):
    give_credit(alice, 100, staff)

    with pytest.raises(InsufficientCredit), transaction.atomic():
        post_entry(kind="payment", legs=[Leg(books["credit"], -101), Leg(books["sales"], 101)])

    assert balance(books["credit"]) == 100
    assert LedgerTransaction.objects.filter(kind="payment").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_an_unbalanced_transaction_written_around_post_entry(books):
    require_postgres(TRIGGERS)

    with pytest.raises(IntegrityError, match="does not sum to zero"), transaction.atomic():
        forge("forged", (books["adjustments"], -100), (books["credit"], 99))

    assert not LedgerTransaction.objects.filter(kind="forged").exists()
    assert Posting.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_checks_the_balance_per_currency(books):
    require_postgres(TRIGGERS)

    with pytest.raises(IntegrityError, match="does not sum to zero"), transaction.atomic():
        forge("forged", (books["adjustments"], -100), (books["sales_eur"], 100))

    assert Posting.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_balance_is_checked_at_commit_so_postings_can_be_written_one_by_one(books):
    require_postgres(TRIGGERS)

    with transaction.atomic():
        txn = forge(
            "manual", (books["adjustments"], -100), (books["credit"], 60), (books["credit"], 40)
        )

    assert sorted(txn.postings.values_list("amount", flat=True)) == [-100, 40, 60]


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["update", "delete", "queryset_delete"])
def test_postings_are_append_only(alice, staff, change):
    require_postgres(TRIGGERS)
    give_credit(alice, 100, staff)
    posting = Posting.objects.filter(account=credit_book(alice)).get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        if change == "update":
            Posting.objects.filter(pk=posting.pk).update(amount=1_000_000)
        elif change == "delete":
            posting.delete()
        else:
            Posting.objects.filter(transaction=posting.transaction).delete()

    assert Posting.objects.get(pk=posting.pk).amount == 100
    assert balance(credit_book(alice)) == 100


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["update", "delete"])
def test_audit_entries_are_append_only(alice, staff, change):
    require_postgres(TRIGGERS)
    give_credit(alice, 100, staff)
    entry = AuditEntry.objects.filter(action="credit.adjusted").get()
    count = AuditEntry.objects.count()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        if change == "update":
            AuditEntry.objects.filter(pk=entry.pk).update(reason="nothing happened")
        else:
            AuditEntry.objects.filter(pk=entry.pk).delete()

    assert AuditEntry.objects.get(pk=entry.pk).reason == "test top-up"
    assert AuditEntry.objects.count() == count
