"""Ed25519 signing keys for license documents."""

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    """A key pair; the private half is stored encrypted with a key derived from SECRET_KEY.

    `active`: signs new documents (exactly one); `published`: listed so that documents it
    signed still verify; `retired`: no longer listed.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        PUBLISHED = "published"
        RETIRED = "retired"

    key_id = models.CharField(max_length=32, unique=True)
    public_key = models.CharField(max_length=64)  # base64 of the 32 raw bytes
    private_key_encrypted = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"),
                                    name="%(app_label)s_%(class)s_one_active",
                                    violation_error_message="Only one key signs at a time."),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.status})"
