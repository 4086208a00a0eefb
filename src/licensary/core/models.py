"""Idempotency records: the first answer to a key, replayed for the same request."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """One `Idempotency-Key` of one account, with the answer it got."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "key"],
                name="%(app_label)s_%(class)s_one_per_account_key",
                violation_error_message="This key was used already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.key}"
