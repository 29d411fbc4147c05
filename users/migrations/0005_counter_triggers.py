from django.db import migrations

from users import db_triggers

LAST_LOGIN_INDEX = {
    # The User List sorted by last login: never-signed-in users first going up (SQLite has no
    # NULLS FIRST in index definitions, and sorts NULLs first already).
    "postgresql": "CREATE INDEX users_org_lastlogin_idx ON users_user "
    "(organization_id, last_login ASC NULLS FIRST, name, id) WHERE deleted_at IS NULL",
    "sqlite": "CREATE INDEX users_org_lastlogin_idx ON users_user "
    "(organization_id, last_login, name, id) WHERE deleted_at IS NULL",
}


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    schema_editor.execute(LAST_LOGIN_INDEX[connection.vendor])
    db_triggers.install(connection)
    db_triggers.recount(connection)


def backwards(apps, schema_editor):
    db_triggers.uninstall(schema_editor.connection)
    schema_editor.execute("DROP INDEX IF EXISTS users_org_lastlogin_idx")


class Migration(migrations.Migration):
    dependencies = [("users", "0004_seat_counts"), ("permissions", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
