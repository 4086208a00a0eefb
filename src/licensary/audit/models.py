"""The append-only, hash-chained audit log (DESIGN rule 15)."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One change: who, when, what (before/after) and why; chained to the entry before it, or,
    written in a batch, listed in the batch's `AuditDigest` (then `prev_hash` and `hash` are
    empty)."""

    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed where set (below): the sweep's entries have no actor
    )
    actor_label = models.CharField(max_length=200, blank=True)  # "system:sweep" when no user
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx"),
            models.Index(
                fields=["actor"], condition=models.Q(actor__isnull=False), name="audit_actor_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class AuditDigest(models.Model):
    """One link of the chain that covers a batch of entries, as CloudTrail's digest files do.

    The batch's entries have consecutive ids, `first_id` to `last_id`, written in one
    transaction (the sweep's batches); each keeps its own content (`prev_hash` and `hash`
    empty) and `digests` lists the SHA-256 of each in id order. `hash` chains the link to the
    entry or link before it: an altered, removed, inserted or reordered entry no longer matches
    its place in the list, and the list itself cannot change without breaking the chain.
    """

    created_at = models.DateTimeField()
    first_id = models.BigIntegerField(unique=True)
    last_id = models.BigIntegerField()
    digests = models.BinaryField()  # 32 bytes per entry, in id order
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["first_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_id__gte=models.F("first_id")),
                name="%(app_label)s_%(class)s_covers_its_range",
                violation_error_message="a digest covers entries first_id to last_id",
            )
        ]

    def __str__(self) -> str:
        return f"digest of #{self.first_id}..#{self.last_id} {self.hash[:12]}"


class AuditHead(models.Model):
    """The single row every writer locks to append to the chain in order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"head {self.count} {self.last_hash[:12]}"
