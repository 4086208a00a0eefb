"""Supplier accounts (credentials kept encrypted) and the intent log of upstream operations."""

from django.db import models

from licensary.core.crypto import seal, unseal


class SupplierAccount(models.Model):
    """Our account at one partner API; a product lists these by name in failover order."""

    class Kind(models.TextChoices):
        MANAGE2 = "manage2"

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANAGE2)
    base_url = models.URLField(max_length=300)
    username = models.CharField(max_length=200)
    password_sealed = models.TextField(blank=True)
    timeout_seconds = models.FloatField(default=15.0)
    active = models.BooleanField(default=True)
    last_alert = models.CharField(max_length=300, blank=True)
    last_alert_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def password(self) -> str:
        return (
            unseal(b"supplier-passwords", self.password_sealed).decode()
            if self.password_sealed
            else ""
        )

    def set_password(self, password: str) -> None:
        self.password_sealed = seal(b"supplier-passwords", password.encode())


class UpstreamOperation(models.Model):
    """An operation recorded before the supplier is called; no vendor takes idempotency keys,
    so after a crash or a lost answer this row says what may have happened."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    op_id = models.CharField(max_length=40, unique=True)
    supplier = models.CharField(max_length=50)
    operation = models.CharField(max_length=20)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="upstream_operations",
    )
    license = models.ForeignKey(
        "licenses.License",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="upstream_operations",
    )
    ip = models.GenericIPAddressField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["order", "supplier", "operation"], name="upstream_op_order_idx")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.op_id} {self.status}"
