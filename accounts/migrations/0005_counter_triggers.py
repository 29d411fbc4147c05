from django.db import migrations

# The counter triggers this migration used to create are installed by permissions 0004, which
# owns them; existing databases get them replaced there, new ones get them there.
LAST_LOGIN_INDEX = {
    # The User List sorted by last login: never-signed-in users first going up (SQLite has no
    # NULLS FIRST in index definitions, and sorts NULLs first already).
    "postgresql": "CREATE INDEX users_org_lastlogin_idx ON users_user "
    "(organization_id, last_login ASC NULLS FIRST, name, id) WHERE deleted_at IS NULL",
    "sqlite": "CREATE INDEX users_org_lastlogin_idx ON users_user "
    "(organization_id, last_login, name, id) WHERE deleted_at IS NULL",
}


def forwards(apps, schema_editor):
    schema_editor.execute(LAST_LOGIN_INDEX[schema_editor.connection.vendor])


def backwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS users_org_lastlogin_idx")


class Migration(migrations.Migration):
    dependencies = [("users", "0004_seat_counts"), ("permissions", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
