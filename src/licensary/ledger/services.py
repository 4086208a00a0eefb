"""`post_entry` is the only writer of the ledger; balances are computed from postings.

The ledger sits below accounts: it knows a book's holder and a transaction's actor only by
their id (and the holder's currency), never by the User model."""

from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from licensary.core.errors import InsufficientCredit
from licensary.core.money import Money
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting


class Identified(Protocol):
    """Anything the ledger records by id alone: a transaction's actor and invoice."""

    @property
    def pk(self) -> Any: ...


class BookHolder(Identified, Protocol):
    """Whoever holds a credit book (an account): its id, and the currency it is billed in."""

    @property
    def currency(self) -> str: ...


class UnbalancedTransaction(Exception):
    """Raised (and the transaction rolled back) when postings do not sum to zero."""


@dataclass(frozen=True)
class Leg:
    account: LedgerAccount
    amount: int


def credit_book(holder: BookHolder, currency: str | None = None) -> LedgerAccount:
    currency = currency or holder.currency
    book, _ = LedgerAccount.objects.get_or_create(
        key=f"credit:{holder.pk}:{currency}",
        defaults={"code": LedgerAccount.Code.CREDIT, "owner_id": holder.pk, "currency": currency},
    )
    return book


def system_book(code: str, currency: str, name: str = "") -> LedgerAccount:
    key = f"{code}:{name}:{currency}" if name else f"{code}:{currency}"
    book, _ = LedgerAccount.objects.get_or_create(
        key=key, defaults={"code": code, "currency": currency}
    )
    return book


def balance(book: LedgerAccount) -> int:
    return Posting.objects.filter(account=book).aggregate(total=Sum("amount"))["total"] or 0


def account_credit(holder: BookHolder) -> Money:
    book = LedgerAccount.objects.filter(key=f"credit:{holder.pk}:{holder.currency}").first()
    return Money(balance(book) if book else 0, holder.currency)


def lock_credit_book(holder: BookHolder, currency: str | None = None) -> LedgerAccount:
    """Lock the account's credit book: the first lock of every money-moving transaction."""
    book = credit_book(holder, currency)
    return LedgerAccount.objects.select_for_update().get(pk=book.pk)


def post_entry(
    *,
    kind: str,
    legs: list[Leg],
    memo: str = "",
    invoice: Identified | None = None,
    actor: Identified | None = None,
) -> LedgerTransaction:
    """Write one balanced transaction inside the caller's database transaction.

    Credit books may not go below zero: callers lock the credit book first
    (`lock_credit_book`), so the check below sees every earlier debit.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("post_entry runs inside the use case's transaction")
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2:
        raise UnbalancedTransaction("a transaction needs at least two non-zero postings")
    totals: dict[str, int] = {}
    for leg in legs:
        totals[leg.account.currency] = totals.get(leg.account.currency, 0) + leg.amount
    if any(totals.values()):
        raise UnbalancedTransaction(f"postings do not sum to zero: {totals}")
    txn = LedgerTransaction.objects.create(
        kind=kind,
        memo=memo[:200],
        created_at=timezone.now(),
        invoice_id=invoice.pk if invoice is not None else None,
        actor_id=actor.pk if actor is not None else None,
    )
    Posting.objects.bulk_create(
        Posting(
            transaction=txn, account=leg.account, amount=leg.amount, currency=leg.account.currency
        )
        for leg in legs
    )
    # The database's own word (on PostgreSQL a deferred trigger checks it again at commit).
    if (
        Posting.objects.filter(transaction=txn)
        .values("currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .exists()
    ):
        raise UnbalancedTransaction("postings do not sum to zero")
    for leg in legs:
        if (
            leg.account.code == LedgerAccount.Code.CREDIT
            and leg.amount < 0
            and balance(leg.account) < 0
        ):
            raise InsufficientCredit(
                f"Credit is short by {Money(-balance(leg.account), leg.account.currency)}."
            )
    return txn
