from django.db import migrations

# The idle filter (users.selectors.idle_filter): COALESCE(last_login, created_at) before a date,
# for the users of an organization that are not deleted (docs/performance.md).
# On PostgreSQL the last sign-in and the day added ride along in the index, so the capped count
# of a filtered page reads the index alone (an index-only scan; an expression index without the
# columns it is computed from never is), and statistics on the expression tell the planner how
# many users are idle since a date (it reads an expression's statistics from an index only when
# the index has no condition, and guesses a third of the tenant otherwise).
FORWARDS = {
    "postgresql": [
        "CREATE INDEX users_org_idle_idx ON users_user "
        "(organization_id, (COALESCE(last_login, created_at))) INCLUDE (last_login, created_at) "
        "WHERE deleted_at IS NULL",
        "CREATE STATISTICS users_idle_stats ON (COALESCE(last_login, created_at)) FROM users_user",
        "ANALYZE users_user",
    ],
    "sqlite": [
        "CREATE INDEX users_org_idle_idx ON users_user "
        "(organization_id, COALESCE(last_login, created_at)) WHERE deleted_at IS NULL",
    ],
}
BACKWARDS = {
    "postgresql": [
        "DROP STATISTICS IF EXISTS users_idle_stats",
        "DROP INDEX IF EXISTS users_org_idle_idx",
    ],
    "sqlite": ["DROP INDEX IF EXISTS users_org_idle_idx"],
}


def forwards(apps, schema_editor):
    for statement in FORWARDS[schema_editor.connection.vendor]:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    for statement in BACKWARDS[schema_editor.connection.vendor]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("users", "0008_session_details")]

    operations = [migrations.RunPython(forwards, backwards)]
