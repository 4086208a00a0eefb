"""Licenses: one product on one IP; active -> blocked -> canceled -> deleted."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class License(models.Model):
    """A license; its status changes only through `licenses.lifecycle`."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKED = "blocked"
        CANCELED = "canceled"
        DELETED = "deleted"

    class Kind(models.TextChoices):
        OWN = "own"
        MANUFACTURER = "manufacturer"

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="licenses"
    )
    # The agent that bought it for `account` and is invoiced its renewals; null: the owner
    # pays for itself.
    billed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="licenses_billed",
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="licenses"
    )
    # Copied from the product when issued: an agent cannot restate what it sells (rule 9).
    kind = models.CharField(max_length=16, choices=Kind.choices, editable=False)
    ip = models.GenericIPAddressField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    blocked_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    renewable_until = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=32, blank=True)
    # Rule 11: IP changes made in the period that began at `ip_changes_period_start`; a count
    # kept for an earlier period is no longer the current one's (see `current_period_start`).
    ip_changes_in_period = models.PositiveSmallIntegerField(default=0)
    ip_changes_period_start = models.DateTimeField(null=True, blank=True)
    # The period_end a renewal invoice was last issued for (the sweep's "already invoiced").
    renewal_invoiced_for = models.DateTimeField(null=True, blank=True)
    # Manufacturer licenses: where the license lives upstream and its state there.
    upstream_supplier = models.CharField(max_length=50, blank=True)
    upstream_reference = models.CharField(max_length=100, blank=True)
    # What `upstream_reference` was before a new license of the same IP reused it: a deleted
    # license keeps the record but no longer holds the reference, so it never acts on it.
    upstream_former_reference = models.CharField(max_length=100, blank=True)
    upstream_status = models.CharField(max_length=16, blank=True)
    upstream_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ip"],
                condition=~Q(status="deleted"),
                name="%(app_label)s_%(class)s_one_live_per_product_ip",
                violation_error_message="This product already has a license on this IP.",
            ),
            models.UniqueConstraint(
                fields=["upstream_supplier", "upstream_reference"],
                condition=~Q(status="deleted") & ~Q(upstream_reference=""),
                name="%(app_label)s_%(class)s_one_live_holder_per_upstream_reference",
                violation_error_message="That upstream license already belongs to a live license.",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="%(app_label)s_%(class)s_period_forward",
                violation_error_message="A period ends after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(status="active") | Q(blocked_at__isnull=False),
                name="%(app_label)s_%(class)s_blocked_has_time",
                violation_error_message="A license that is not active records its blocking.",
            ),
        ]
        indexes = [
            # Partial indexes on due rows keep every sweep step an index range scan.
            # (deadline, id): the sweep's `ORDER BY deadline, id LIMIT n` reads them in order.
            models.Index(
                fields=["period_end", "id"],
                condition=Q(status="active"),
                name="license_active_due_idx",
            ),
            models.Index(
                fields=["blocked_at", "id"],
                condition=Q(status="blocked"),
                name="license_blocked_due_idx",
            ),
            models.Index(
                fields=["renewable_until", "id"],
                condition=Q(status="canceled"),
                name="license_canceled_due_idx",
            ),
            models.Index(fields=["ip", "product"], name="license_ip_product_idx"),
            models.Index(fields=["account", "status"], name="license_account_status_idx"),
        ]

    def __str__(self) -> str:
        return f"License {self.pk} {self.product_id}@{self.ip} {self.status}"

    @property
    def payer_id(self) -> int:
        """The account its renewal invoices go to."""
        return self.billed_to_id or self.account_id

    @property
    def upstream_wanted(self) -> str:
        """The upstream state this license's status calls for."""
        return UPSTREAM_WANTED[self.status]

    @property
    def upstream_in_step(self) -> bool:
        # A license that released its reference has nothing upstream left to keep in step.
        return (
            self.kind == self.Kind.OWN
            or not self.upstream_reference
            or self.upstream_status == self.upstream_wanted
        )


class UnresolvableProblem(models.Model):
    """Staff's mark that a licensing problem of an own license cannot be solved (rule 7);
    it makes the license's payments refundable by the policy."""

    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="unresolvable_problems"
    )
    ticket = models.CharField(max_length=100, blank=True, help_text="the support ticket")
    note = models.CharField(max_length=300)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    marked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"unresolvable problem on license {self.license_id}"


UPSTREAM_WANTED = {
    "active": "active",
    "blocked": "suspended",
    "canceled": "suspended",
    "deleted": "terminated",
}
