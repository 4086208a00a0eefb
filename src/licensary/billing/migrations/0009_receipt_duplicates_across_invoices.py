# One bank transfer pays one invoice: receipts that repeat another invoice's evidence (the same
# file, or the same bank reference, neither rejected) are marked `duplicate_of` it, so that the
# constraints of 0010 hold. Nothing is deleted: staff settle them.

from django.db import migrations


def mark_duplicates_across_invoices(apps, schema_editor):
    """Among the receipts that are not duplicates already and not rejected, the original of
    each piece of evidence is the confirmed receipt (the one that became money) if there is
    one, else the earliest; every other receipt sharing its file or its reference (or sharing
    one with a receipt marked already) points at it."""
    Receipt = apps.get_model("billing", "Receipt")
    rows = list(Receipt.objects.filter(duplicate_of__isnull=True).exclude(status="rejected")
                .values_list("pk", "sha256", "reference_key", "status"))
    rows.sort(key=lambda row: (row[3] != "confirmed", row[0]))
    files: dict[str, int] = {}
    references: dict[str, int] = {}
    for pk, sha256, key, _status in rows:
        first = files.get(sha256) or (references.get(key) if key else None)
        original = first or pk
        files.setdefault(sha256, original)
        if key:
            references.setdefault(key, original)
        if first is not None:
            Receipt.objects.filter(pk=pk).update(duplicate_of_id=first)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0008_refund_needs_staff'),
    ]

    operations = [
        migrations.RunPython(mark_duplicates_across_invoices, migrations.RunPython.noop),
    ]
