# The constraints that make one bank transfer one receipt across invoices (after 0009 marked
# the legacy duplicates), in a migration of their own for the reason 0006 gives.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0009_receipt_duplicates_across_invoices'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='receipt',
            constraint=models.UniqueConstraint(condition=models.Q(('duplicate_of__isnull', True), models.Q(('status', 'rejected'), _negated=True)), fields=('sha256',), name='billing_receipt_one_per_file', violation_error_message='This file is already a receipt.'),
        ),
        migrations.AddConstraint(
            model_name='receipt',
            constraint=models.UniqueConstraint(condition=models.Q(('duplicate_of__isnull', True), models.Q(('reference_key', ''), _negated=True), models.Q(('status', 'rejected'), _negated=True)), fields=('reference_key',), name='billing_receipt_one_per_reference', violation_error_message='This bank reference is already a receipt.'),
        ),
    ]
