"""Database triggers that keep users_seatcount exact: +1/-1 when a user row appears, is deleted
(tombstoned) or leaves, and when a service grant is added or removed. They run inside the
writing transaction, whatever wrote the row, so the counters never drift from the rows."""

from django.db import migrations

PG_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION users_seatcount_bump(org bigint, c varchar, delta integer)
    RETURNS void AS $$
    BEGIN
        IF delta > 0 THEN
            INSERT INTO users_seatcount (organization_id, code, used) VALUES (org, c, delta)
            ON CONFLICT (organization_id, code)
            DO UPDATE SET used = users_seatcount.used + EXCLUDED.used;
        ELSE
            UPDATE users_seatcount SET used = used + delta
            WHERE organization_id = org AND code = c;
        END IF;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION users_seatcount_users() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
            PERFORM users_seatcount_bump(OLD.organization_id, 'users', -1);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
            PERFORM users_seatcount_bump(NEW.organization_id, 'users', 1);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION users_seatcount_grants() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM users_seatcount_bump(OLD.organization_id, OLD.service, -1);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            PERFORM users_seatcount_bump(NEW.organization_id, NEW.service, 1);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER users_seatcount_users_ins AFTER INSERT ON users_user "
    "FOR EACH ROW EXECUTE FUNCTION users_seatcount_users()",
    "CREATE TRIGGER users_seatcount_users_del AFTER DELETE ON users_user "
    "FOR EACH ROW EXECUTE FUNCTION users_seatcount_users()",
    "CREATE TRIGGER users_seatcount_users_upd AFTER UPDATE OF deleted_at, organization_id "
    "ON users_user FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at "
    "OR OLD.organization_id IS DISTINCT FROM NEW.organization_id) "
    "EXECUTE FUNCTION users_seatcount_users()",
    "CREATE TRIGGER users_seatcount_grants_ins AFTER INSERT ON permissions_servicegrant "
    "FOR EACH ROW EXECUTE FUNCTION users_seatcount_grants()",
    "CREATE TRIGGER users_seatcount_grants_del AFTER DELETE ON permissions_servicegrant "
    "FOR EACH ROW EXECUTE FUNCTION users_seatcount_grants()",
    "CREATE TRIGGER users_seatcount_grants_upd AFTER UPDATE OF service, organization_id "
    "ON permissions_servicegrant FOR EACH ROW WHEN (OLD.service IS DISTINCT FROM NEW.service "
    "OR OLD.organization_id IS DISTINCT FROM NEW.organization_id) "
    "EXECUTE FUNCTION users_seatcount_grants()",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS users_seatcount_users_ins ON users_user",
    "DROP TRIGGER IF EXISTS users_seatcount_users_del ON users_user",
    "DROP TRIGGER IF EXISTS users_seatcount_users_upd ON users_user",
    "DROP TRIGGER IF EXISTS users_seatcount_grants_ins ON permissions_servicegrant",
    "DROP TRIGGER IF EXISTS users_seatcount_grants_del ON permissions_servicegrant",
    "DROP TRIGGER IF EXISTS users_seatcount_grants_upd ON permissions_servicegrant",
    "DROP FUNCTION IF EXISTS users_seatcount_users()",
    "DROP FUNCTION IF EXISTS users_seatcount_grants()",
    "DROP FUNCTION IF EXISTS users_seatcount_bump(bigint, varchar, integer)",
]


def _sqlite_add(org: str, code: str) -> str:
    return (
        "INSERT INTO users_seatcount (organization_id, code, used) "
        f"VALUES ({org}, {code}, 1) "
        "ON CONFLICT (organization_id, code) DO UPDATE SET used = used + 1;"
    )


def _sqlite_remove(org: str, code: str) -> str:
    return (
        f"UPDATE users_seatcount SET used = used - 1 WHERE organization_id = {org} "
        f"AND code = {code};"
    )


SQLITE_FORWARD = [
    "CREATE TRIGGER users_seatcount_users_ins AFTER INSERT ON users_user "
    "WHEN NEW.deleted_at IS NULL BEGIN " + _sqlite_add("NEW.organization_id", "'users'") + " END",
    "CREATE TRIGGER users_seatcount_users_del AFTER DELETE ON users_user "
    "WHEN OLD.deleted_at IS NULL BEGIN "
    + _sqlite_remove("OLD.organization_id", "'users'")
    + " END",
    "CREATE TRIGGER users_seatcount_users_upd_old AFTER UPDATE OF deleted_at, organization_id "
    "ON users_user WHEN OLD.deleted_at IS NULL AND (NEW.deleted_at IS NOT NULL "
    "OR OLD.organization_id IS NOT NEW.organization_id) BEGIN "
    + _sqlite_remove("OLD.organization_id", "'users'")
    + " END",
    "CREATE TRIGGER users_seatcount_users_upd_new AFTER UPDATE OF deleted_at, organization_id "
    "ON users_user WHEN NEW.deleted_at IS NULL AND (OLD.deleted_at IS NOT NULL "
    "OR OLD.organization_id IS NOT NEW.organization_id) BEGIN "
    + _sqlite_add("NEW.organization_id", "'users'")
    + " END",
    "CREATE TRIGGER users_seatcount_grants_ins AFTER INSERT ON permissions_servicegrant BEGIN "
    + _sqlite_add("NEW.organization_id", "NEW.service")
    + " END",
    "CREATE TRIGGER users_seatcount_grants_del AFTER DELETE ON permissions_servicegrant BEGIN "
    + _sqlite_remove("OLD.organization_id", "OLD.service")
    + " END",
    "CREATE TRIGGER users_seatcount_grants_upd AFTER UPDATE OF service, organization_id "
    "ON permissions_servicegrant WHEN OLD.service IS NOT NEW.service "
    "OR OLD.organization_id IS NOT NEW.organization_id BEGIN "
    + _sqlite_remove("OLD.organization_id", "OLD.service")
    + " "
    + _sqlite_add("NEW.organization_id", "NEW.service")
    + " END",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "users_seatcount_users_ins",
        "users_seatcount_users_del",
        "users_seatcount_users_upd_old",
        "users_seatcount_users_upd_new",
        "users_seatcount_grants_ins",
        "users_seatcount_grants_del",
        "users_seatcount_grants_upd",
    )
]

BACKFILL = [
    "DELETE FROM users_seatcount",
    "INSERT INTO users_seatcount (organization_id, code, used) "
    "SELECT organization_id, 'users', COUNT(*) FROM users_user WHERE deleted_at IS NULL "
    "GROUP BY organization_id",
    "INSERT INTO users_seatcount (organization_id, code, used) "
    "SELECT organization_id, service, COUNT(*) FROM permissions_servicegrant "
    "GROUP BY organization_id, service",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor)
    if statements is None:
        raise NotImplementedError(f"seat count triggers are not written for {vendor}")
    for sql in [*statements, *BACKFILL]:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}[vendor]:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("users", "0004_seat_counts"), ("permissions", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
