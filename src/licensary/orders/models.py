"""Orders: the request for a license on an IP, paid by its invoice, delivered by the worker."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Order(models.Model):
    """An order; delivered automatically once paid unless held for one of three causes."""

    class Kind(models.TextChoices):
        NEW = "new"
        RENEWAL = "renewal"
        CLAIM = "claim"

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment"
        PROCESSING = "processing"
        ON_HOLD = "on_hold"
        COMPLETED = "completed"
        REJECTED = "rejected"
        CANCELED = "canceled"

    class HoldReason(models.TextChoices):
        IP_REGISTERED_HERE = "ip_registered_here"
        IP_REGISTERED_UPSTREAM = "ip_registered_upstream"
        SUPPLIER_UNAVAILABLE = "supplier_unavailable"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="orders")
    ip = models.GenericIPAddressField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NEW)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT
    )
    hold_reason = models.CharField(max_length=32, choices=HoldReason.choices, null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    hold_detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="order"
    )
    license = models.ForeignKey(
        "licenses.License", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status="on_hold", hold_reason__isnull=False, held_at__isnull=False)
                    | (~Q(status="on_hold") & Q(hold_reason__isnull=True))
                ),
                name="%(app_label)s_%(class)s_hold_has_reason",
                violation_error_message="A held order records why and since when.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["held_at"], condition=Q(status="on_hold"), name="order_review_queue_idx"
            ),
            models.Index(fields=["account", "status"], name="order_account_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} {self.status}"
