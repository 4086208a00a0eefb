"""`post_entry` is the only writer of the ledger; balances are computed from postings."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from licensary.accounts.models import User
from licensary.audit.services import Change, audit_record
from licensary.core.errors import InsufficientCredit, PermissionDenied, ValidationFailed
from licensary.core.money import Money, require_amount
from licensary.ledger.models import LedgerAccount, LedgerTransaction, Posting


class UnbalancedTransaction(Exception):
    """Raised (and the transaction rolled back) when postings do not sum to zero."""


@dataclass(frozen=True)
class Leg:
    account: LedgerAccount
    amount: int


def credit_book(user: User, currency: str | None = None) -> LedgerAccount:
    currency = currency or user.currency
    book, _ = LedgerAccount.objects.get_or_create(
        key=f"credit:{user.pk}:{currency}",
        defaults={"code": LedgerAccount.Code.CREDIT, "owner": user, "currency": currency},
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


def account_credit(user: User) -> Money:
    book = LedgerAccount.objects.filter(key=f"credit:{user.pk}:{user.currency}").first()
    return Money(balance(book) if book else 0, user.currency)


def lock_credit_book(user: User, currency: str | None = None) -> LedgerAccount:
    """Lock the account's credit book: the first lock of every money-moving transaction."""
    book = credit_book(user, currency)
    return LedgerAccount.objects.select_for_update().get(pk=book.pk)


def post_entry(
    *, kind: str, legs: list[Leg], memo: str = "", invoice: object = None, actor: User | None = None
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
        kind=kind, memo=memo[:200], created_at=timezone.now(), invoice=invoice, actor=actor
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


def account_credit_adjust(*, account: User, amount: int, note: str, actor: User) -> Money:
    """Staff put credit on (or take it off) an account; the other side is `adjustments`."""
    if not actor.is_staff_account:
        raise PermissionDenied("Only staff adjust credit.")
    require_amount(amount, allow_negative=True)
    if not note.strip():
        raise ValidationFailed("A credit adjustment needs a note saying why.")
    try:
        with transaction.atomic():
            book = lock_credit_book(account)
            post_entry(
                kind="adjustment",
                memo=note,
                actor=actor,
                legs=[
                    Leg(book, amount),
                    Leg(system_book(LedgerAccount.Code.ADJUSTMENTS, book.currency), -amount),
                ],
            )
            after = balance(book)
            audit_record(
                Change(
                    action="credit.adjusted",
                    object_type="account",
                    object_id=account.pk,
                    actor=actor,
                    account_id=account.pk,
                    before={"credit": after - amount},
                    after={"credit": after},
                    reason=note,
                )
            )
    except IntegrityError as exc:  # pragma: no cover - the database refused an unbalanced txn
        raise UnbalancedTransaction(str(exc)) from exc
    return Money(after, book.currency)
