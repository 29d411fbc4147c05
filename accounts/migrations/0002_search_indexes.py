"""Trigram indexes for the User List search on PostgreSQL (a no-op on SQLite).

Django compiles `name__icontains` to `UPPER("name"::text) LIKE UPPER(%s)`, so the name index is
on that expression; a plain trigram index on the column would be silently unused. Login IDs are
searched through their lower-cased key with `contains`. Partial on live users, like every list
query.
"""

from django.db import migrations

INDEXES = [
    (
        "users_name_trgm",
        'CREATE INDEX IF NOT EXISTS users_name_trgm ON users_user USING gin '
        '((UPPER("name"::text)) gin_trgm_ops) WHERE deleted_at IS NULL',
    ),
    (
        "users_login_trgm",
        "CREATE INDEX IF NOT EXISTS users_login_trgm ON users_user USING gin "
        "(login_id_key gin_trgm_ops) WHERE deleted_at IS NULL",
    ),
    (
        "users_extension_trgm",
        "CREATE INDEX IF NOT EXISTS users_extension_trgm ON users_user USING gin "
        "(extension gin_trgm_ops) WHERE deleted_at IS NULL",
    ),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for _, sql in INDEXES:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
