from django.db import migrations

from licensary.core.db import POSTGRES_ADD_DAYS


def forwards(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_ADD_DAYS, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_database_rules")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
