"""Double-entry ledger: transactions of postings that sum to zero per currency (rule 14)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class LedgerAccount(models.Model):
    """A book: an account holder's credit, or a system book (sales, adjustments, gateways)."""

    class Code(models.TextChoices):
        CREDIT = "credit"  # what the distributor owes the account holder: its credit
        SALES = "sales"
        ADJUSTMENTS = "adjustments"
        REFUNDS = "refunds"
        GATEWAY = "gateway"  # money received through a payment gateway or bank

    key = models.CharField(max_length=100, unique=True)
    code = models.CharField(max_length=16, choices=Code.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(code="credit", owner__isnull=False) | ~Q(code="credit"),
                name="%(app_label)s_%(class)s_credit_has_owner",
                violation_error_message="A credit book belongs to an account.",
            )
        ]

    def __str__(self) -> str:
        return self.key


class LedgerTransaction(models.Model):
    """One balanced movement of money; never edited, only followed by another."""

    kind = models.CharField(max_length=32)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    invoice = models.ForeignKey(
        "billing.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_transactions",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"txn {self.pk} {self.kind}"


class Posting(models.Model):
    """One side of a transaction: a signed amount in minor units on one book."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="postings"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["account"], name="ledger_posting_account_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0),
                name="%(app_label)s_%(class)s_amount_not_zero",
                violation_error_message="A posting moves a non-zero amount.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account.key} {self.amount:+d} {self.currency}"
