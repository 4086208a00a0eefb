# The constraints that make one piece of evidence one receipt (after 0004 marked the legacy
# duplicates): in a migration of their own, so that on PostgreSQL the rows 0004 updated have
# no pending deferred-trigger events when the indexes are built.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_receipt_same_evidence_once'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='receipt',
            constraint=models.UniqueConstraint(condition=models.Q(('duplicate_of__isnull', True)), fields=('invoice', 'sha256'), name='billing_receipt_one_per_file_per_invoice', violation_error_message='This file is already a receipt of this invoice.'),
        ),
        migrations.AddConstraint(
            model_name='receipt',
            constraint=models.UniqueConstraint(condition=models.Q(('duplicate_of__isnull', True), models.Q(('reference_key', ''), _negated=True), models.Q(('status', 'rejected'), _negated=True)), fields=('invoice', 'reference_key'), name='billing_receipt_one_per_reference_per_invoice', violation_error_message='This bank reference is already a receipt of this invoice.'),
        ),
    ]
