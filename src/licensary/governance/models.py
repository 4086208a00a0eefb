"""Transfers and claims (rule 10): how a license changes hands without ever becoming two."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Transfer(models.Model):
    """The owner's request that `license` move to `to_account`; the recipient decides."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        CANCELED = "canceled"  # by the owner, by a ban, by a claim, or expired after 7 days

    license = models.ForeignKey("licenses.License", on_delete=models.PROTECT, related_name="+")
    from_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_in"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    cancel_reason = models.CharField(max_length=40, blank=True)
    ticket = models.ForeignKey("support.Ticket", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["license"],
                condition=Q(status="pending"),
                name="%(app_label)s_%(class)s_one_pending_per_license",
                violation_error_message="This license already has a pending transfer.",
            )
        ]

    def __str__(self) -> str:
        return f"Transfer {self.pk} of license {self.license_id} {self.status}"


class Claim(models.Model):
    """Another account's claim of the (product, IP) a license holds, proved from that IP."""

    class Status(models.TextChoices):
        AWAITING_OWNER = "awaiting_owner"  # the owner has 3 days to transfer it instead
        AWAITING_PROOF = "awaiting_proof"
        AWAITING_REVIEW = "awaiting_review"
        APPROVED = "approved"
        REJECTED = "rejected"
        CANCELED = "canceled"  # the license moved or went, or the claimant was banned

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    ip = models.CharField(max_length=45)
    claimant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    license = models.ForeignKey("licenses.License", on_delete=models.PROTECT, related_name="+")
    # Who held the license when it was claimed: if it changes hands meanwhile (the owner
    # transferred it "instead"), the claim no longer applies.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="claims_against"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=200, blank=True)  # why rejected or canceled
    owner_deadline = models.DateTimeField(null=True, blank=True)
    # The challenge: a random single-use secret, answered from the claimed IP itself.
    challenge = models.CharField(max_length=64)
    challenge_expires_at = models.DateTimeField()
    proved_at = models.DateTimeField(null=True, blank=True)
    proved_from = models.CharField(max_length=64, blank=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ip", "claimant"],
                condition=Q(status__in=["awaiting_owner", "awaiting_proof", "awaiting_review"]),
                name="%(app_label)s_%(class)s_one_open_per_claimant",
                violation_error_message="You already have an open claim on this product and IP.",
            )
        ]

    def __str__(self) -> str:
        return f"Claim {self.pk} of {self.product_id}@{self.ip} {self.status}"
