"""Rules the database enforces itself on PostgreSQL (SQLite: checked in the transaction)."""

from django.db import migrations

from licensary.core.db import POSTGRES_ADD_MONTHS

LEDGER_BALANCED = """
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM ledger_posting WHERE transaction_id = NEW.transaction_id
    GROUP BY currency HAVING SUM(amount) <> 0
  ) THEN
    RAISE EXCEPTION 'ledger transaction % does not sum to zero', NEW.transaction_id
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT OR UPDATE ON ledger_posting
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION licensary_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = '42501';
END $$;
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditentry;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
  FOR EACH ROW EXECUTE FUNCTION licensary_append_only();
DROP TRIGGER IF EXISTS posting_append_only ON ledger_posting;
CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
  FOR EACH ROW EXECUTE FUNCTION licensary_append_only();
"""


def forwards(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in (POSTGRES_ADD_MONTHS, LEDGER_BALANCED, APPEND_ONLY):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("audit", "0001_initial"),
        ("ledger", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
