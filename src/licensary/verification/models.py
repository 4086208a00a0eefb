"""Ed25519 signing keys for license documents."""

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    """A key pair; the private half is stored encrypted with a key derived from SECRET_KEY.

    A key's status is not stored: it follows from the clock. Among the keys not retired, the one
    of the highest `generation` whose `activates_at` has come signs (`active`); a later one not
    yet due is `next` (published so that clients learn it before it signs); an earlier one is
    `retiring` (published so that documents it signed still verify) until it is retired. A
    retired key is no longer published and its private half is wiped.
    """

    key_id = models.CharField(max_length=32, unique=True)
    generation = models.PositiveIntegerField()  # 1 for the first key, then one per rotation
    public_key = models.CharField(max_length=64)  # base64 of the 32 raw bytes
    private_key_encrypted = models.TextField(blank=True)  # "" once retired
    created_at = models.DateTimeField()
    activates_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["generation"]
        constraints = [
            # Two processes creating the first key, or rotating at once, cannot both succeed.
            models.UniqueConstraint(
                fields=["generation"],
                name="%(app_label)s_%(class)s_one_key_per_generation",
                violation_error_message="Another key was made at the same time; try again.",
            ),
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(private_key_encrypted=""),
                name="%(app_label)s_%(class)s_retired_key_cannot_sign",
                violation_error_message="A retired key keeps no private half.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} (generation {self.generation})"
