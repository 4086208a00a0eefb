"""Invoices with their lines, the gapless invoice number, and payments."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from licensary.core.money import Money


class InvoiceSequence(models.Model):
    """The next invoice number; locked and bumped in the issuing transaction, so no gaps."""

    name = models.CharField(max_length=20, primary_key=True)
    next_value = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.name}: {self.next_value}"


class Invoice(models.Model):
    """A bill to one account; its lines say what for."""

    class Status(models.TextChoices):
        UNPAID = "unpaid"
        PAID = "paid"
        VOID = "void"
        REFUNDED = "refunded"
        PARTIALLY_REFUNDED = "partially_refunded"

    class Purpose(models.TextChoices):
        ORDER = "order"
        RENEWAL = "renewal"
        DEPOSIT = "deposit"

    number = models.BigIntegerField(unique=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.UNPAID)
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField()
    issued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-number"]
        indexes = [
            models.Index(fields=["account", "status"], name="invoice_account_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total__gte=0),
                name="%(app_label)s_%(class)s_total_not_negative",
                violation_error_message="An invoice total is not negative.",
            ),
            models.CheckConstraint(
                condition=Q(status="unpaid") | Q(status="void") | Q(paid_at__isnull=False),
                name="%(app_label)s_%(class)s_paid_has_time",
                violation_error_message="A paid invoice records when it was paid.",
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number}"

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        LICENSE = "license"
        SETUP_FEE = "setup_fee"
        RENEWAL = "renewal"
        DEPOSIT = "deposit"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=300)
    amount = models.BigIntegerField()
    license = models.ForeignKey(
        "licenses.License",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    # On an agent's invoice, the customer the line was sold for (rule 9: agents sell).
    customer = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="%(app_label)s_%(class)s_amount_not_negative",
                violation_error_message="A line amount is not negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Payment(models.Model):
    """Money received for an invoice; recorded once however often it is reported."""

    class Method(models.TextChoices):
        CREDIT = "credit"
        GATEWAY = "gateway"
        BANK = "bank"
        MANUAL = "manual"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=Method.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()
    reference = models.CharField(max_length=200, blank=True)  # the gateway's payment id
    gateway = models.CharField(max_length=20, blank=True)
    ledger_transaction = models.OneToOneField(
        "ledger.LedgerTransaction", on_delete=models.PROTECT, related_name="payment"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                name="%(app_label)s_%(class)s_one_per_invoice",
                violation_error_message="This invoice is paid already.",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.amount} for {self.invoice}"


class Receipt(models.Model):
    """A bank-transfer receipt uploaded on an invoice, confirmed or rejected by staff."""

    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        REJECTED = "rejected"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="receipts")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    stored_name = models.CharField(max_length=80, unique=True)  # random; never the user's
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    reference = models.CharField(max_length=200, blank=True)
    # The reference as a bank reads it (see `receipts.reference_key`): what makes two receipts
    # the same transfer. Empty when the customer gave none.
    reference_key = models.CharField(max_length=200, blank=True)
    # Set only on receipts that were duplicates before the constraints below existed (by
    # migrations 0005 and 0009), so that they could be kept, visibly, for staff to settle.
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    amount_received = models.BigIntegerField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The same evidence is money once (RELIABILITY "Money"). A rejected file stays the
            # same evidence; a rejected receipt's reference may come again with a better file.
            models.UniqueConstraint(
                fields=["invoice", "sha256"],
                condition=Q(duplicate_of__isnull=True),
                name="%(app_label)s_%(class)s_one_per_file_per_invoice",
                violation_error_message="This file is already a receipt of this invoice.",
            ),
            models.UniqueConstraint(
                fields=["invoice", "reference_key"],
                condition=Q(duplicate_of__isnull=True)
                & ~Q(reference_key="")
                & ~Q(status="rejected"),
                name="%(app_label)s_%(class)s_one_per_reference_per_invoice",
                violation_error_message="This bank reference is already a receipt of this invoice.",
            ),
            # One transfer pays one invoice: across invoices (and accounts), a file or a bank
            # reference is one receipt that is not rejected.
            models.UniqueConstraint(
                fields=["sha256"],
                condition=Q(duplicate_of__isnull=True) & ~Q(status="rejected"),
                name="%(app_label)s_%(class)s_one_per_file",
                violation_error_message="This file is already a receipt.",
            ),
            models.UniqueConstraint(
                fields=["reference_key"],
                condition=Q(duplicate_of__isnull=True)
                & ~Q(reference_key="")
                & ~Q(status="rejected"),
                name="%(app_label)s_%(class)s_one_per_reference",
                violation_error_message="This bank reference is already a receipt.",
            ),
        ]

    def __str__(self) -> str:
        return f"receipt {self.pk} for {self.invoice}"

    @property
    def invoice_already_paid(self) -> bool:
        """Still waiting while its invoice was paid some other way: staff must decide."""
        return self.status == self.Status.PENDING and self.invoice.status in INVOICE_PAID


INVOICE_PAID = (Invoice.Status.PAID, Invoice.Status.PARTIALLY_REFUNDED, Invoice.Status.REFUNDED)


class GatewayEvent(models.Model):
    """A gateway's webhook event, stored with its effect in one transaction: applied once."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        OVERPAID = "overpaid"  # the invoice was paid already: the money went to credit
        MISMATCH = "mismatch"  # amount or currency differ from the invoice: for staff
        UNKNOWN_INVOICE = "unknown_invoice"
        DEFERRED = "deferred"  # a refund that arrived before its payment
        IGNORED = "ignored"

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=60)
    payment_reference = models.CharField(max_length=100, blank=True, db_index=True)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="gateway_events"
    )
    payload = models.JSONField()
    # The dispute the event spoke of (its deferred events are settled with it).
    dispute = models.ForeignKey(
        "Dispute", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"],
                name="%(app_label)s_%(class)s_once_per_event",
                violation_error_message="This event was received already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id} {self.outcome}"


class Refund(models.Model):
    """A refund request, with the policy's answer (rule 7) and staff's decision."""

    class Status(models.TextChoices):
        REQUESTED = "requested"
        APPROVED = "approved"
        REJECTED = "rejected"
        PAID = "paid"

    class Destination(models.TextChoices):
        CREDIT = "credit"
        ORIGINAL = "original"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    eligible = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    rule = models.CharField(max_length=60)
    explanation = models.CharField(max_length=300)
    destination = models.CharField(
        max_length=16, choices=Destination.choices, default=Destination.CREDIT
    )
    reason = models.CharField(max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    gateway_reference = models.CharField(max_length=100, blank=True)
    # Set while one process asks the gateway to pay this refund (a claim taken by a conditional
    # UPDATE, cleared with the answer): a second approver waits instead of asking again.
    gateway_call_at = models.DateTimeField(null=True, blank=True)
    # Paid out by the gateway but refused by the books (see `decision_note`): staff settle it.
    needs_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(eligible__gte=0),
                name="%(app_label)s_%(class)s_eligible_not_negative",
                violation_error_message="A refund is never negative.",
            ),
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status="requested"),
                name="%(app_label)s_%(class)s_one_open_per_invoice",
                violation_error_message="A refund is already requested.",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} {self.status}"


class Dispute(models.Model):
    """A chargeback on a gateway payment, or the inquiry before one (rules 8, 14).

    Its money moves once per step, and the step's ledger transaction is kept here: held apart
    (`held_by`) when the gateway withdraws it, then given back or gone for good
    (`settled_by`). Events may come in any order; `state` only moves forward.
    """

    class State(models.TextChoices):
        INQUIRY = "inquiry"  # the issuer asks; no money has moved
        OPEN = "open"  # a chargeback: the gateway withdrew the money; held until decided
        WON = "won"  # the money came back
        LOST = "lost"  # the money is gone for good
        CLOSED = "closed"  # an inquiry closed (or prevented) without money moving

    gateway = models.CharField(max_length=20)
    dispute_id = models.CharField(max_length=100)
    payment_reference = models.CharField(max_length=100, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices)
    gateway_status = models.CharField(max_length=40)  # the gateway's own word for it
    reason = models.CharField(max_length=60, blank=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    evidence_due_at = models.DateTimeField(null=True, blank=True)
    # Known once its payment is: the invoice it paid, or (payment == None) the invoice whose
    # money went to credit because it was paid already.
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    held_by = models.OneToOneField(
        "ledger.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    settled_by = models.OneToOneField(
        "ledger.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    needs_staff = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "dispute_id"],
                name="%(app_label)s_%(class)s_once_per_dispute",
                violation_error_message="This dispute is recorded already.",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="%(app_label)s_%(class)s_amount_positive",
                violation_error_message="A dispute is for a positive amount.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} dispute {self.dispute_id} {self.state}"
