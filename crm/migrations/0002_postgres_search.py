"""PostgreSQL-only search support: pg_trgm and GIN trigram indexes for substring search of names
and kana (prefix search uses the varchar_pattern_ops b-tree indexes of 0001). Nothing on SQLite."""

from django.db import migrations

INDEXES = {
    "crm_customer_name_trgm": "search_name",
    "crm_customer_kana_trgm": "search_kana",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON crm_customer USING gin ({column} gin_trgm_ops)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
