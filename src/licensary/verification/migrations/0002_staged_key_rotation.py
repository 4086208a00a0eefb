"""Staged key rotation: a key's status follows from `activates_at` instead of being stored."""

from django.db import migrations, models


def forwards(apps, schema_editor):  # noqa: ANN001, ANN201
    SigningKey = apps.get_model("verification", "SigningKey")  # noqa: N806
    # The active key was always the latest made, so creation order is signing order.
    for generation, key in enumerate(SigningKey.objects.order_by("created_at", "pk"), start=1):
        key.generation = generation
        key.activates_at = key.created_at
        if key.status == "retired":
            key.retired_at = key.retired_at or key.created_at
            key.private_key_encrypted = ""
        key.save(update_fields=["generation", "activates_at", "retired_at",
                                "private_key_encrypted"])


class Migration(migrations.Migration):

    dependencies = [
        ("verification", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="signingkey",
            name="generation",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="activates_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="private_key_encrypted",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="signingkey",
            name="generation",
            field=models.PositiveIntegerField(),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="activates_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveConstraint(
            model_name="signingkey",
            name="verification_signingkey_one_active",
        ),
        migrations.RemoveField(
            model_name="signingkey",
            name="status",
        ),
        migrations.AlterModelOptions(
            name="signingkey",
            options={"ordering": ["generation"]},
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.UniqueConstraint(
                fields=("generation",), name="verification_signingkey_one_key_per_generation",
                violation_error_message="Another key was made at the same time; try again."),
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.CheckConstraint(
                condition=models.Q(("retired_at__isnull", True), ("private_key_encrypted", ""),
                                   _connector="OR"),
                name="verification_signingkey_retired_key_cannot_sign",
                violation_error_message="A retired key keeps no private half."),
        ),
    ]
