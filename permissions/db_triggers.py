"""Database triggers that keep counters exact, in the writing transaction, whatever wrote the
row (services, bulk loads, raw SQL):

- permissions_seatcount (table users_seatcount): an organization's users that are not deleted
  ("users") and its grants per service (the seat meter and the limit checks read one row
  instead of counting);
- users_user.service_count: the services the User List shows for a user (those without levels),
  so the list sorts on it through an index.

The triggers are installed by migrations, with the services with levels frozen in the
migration's arguments. SQLite rebuilds a table for many schema changes and a rebuilt table has
lost its triggers, so a migration that alters users_user or permissions_servicegrant ends with
`reinstall_operation()`. tests/permissions/test_triggers.py checks that the installed triggers
are exactly what the current catalog asks for: a catalog change without a migration, or a
rebuild without a reinstall, fails the suite.
"""

from django.db import migrations

from . import catalog

# Services with levels have no icon in the User List, so service_count leaves them out.
CATALOG_LEVELED: tuple[str, ...] = tuple(s.code for s in catalog.GRANTABLE if s.has_levels)


def _sql_list(codes: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{code}'" for code in codes) + ")"


# PostgreSQL: statement-level triggers with transition tables for inserts and deletes, so a
# bulk insert of 500,000 grants costs one grouped UPDATE, not 500,000 single-row ones; row-level
# triggers for the rare updates of the counted columns.
def _pg(LEVELED: str) -> list[str]:
    return [
        """
        CREATE OR REPLACE FUNCTION users_seatcount_add(org bigint, c varchar, delta integer)
        RETURNS void AS $$
        BEGIN
            INSERT INTO users_seatcount (organization_id, code, used) VALUES (org, c, delta)
            ON CONFLICT (organization_id, code)
            DO UPDATE SET used = users_seatcount.used + EXCLUDED.used;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE OR REPLACE FUNCTION users_seatcount_users_ins() RETURNS trigger AS $$
        BEGIN
            INSERT INTO users_seatcount (organization_id, code, used)
            SELECT organization_id, 'users', COUNT(*) FROM new_rows WHERE deleted_at IS NULL
            GROUP BY organization_id
            ON CONFLICT (organization_id, code)
            DO UPDATE SET used = users_seatcount.used + EXCLUDED.used;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE OR REPLACE FUNCTION users_seatcount_users_del() RETURNS trigger AS $$
        BEGIN
            UPDATE users_seatcount s SET used = s.used - d.n
            FROM (SELECT organization_id, COUNT(*) AS n FROM old_rows WHERE deleted_at IS NULL
                  GROUP BY organization_id) d
            WHERE s.organization_id = d.organization_id AND s.code = 'users';
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        """
        CREATE OR REPLACE FUNCTION users_seatcount_users_upd() RETURNS trigger AS $$
        BEGIN
            IF OLD.deleted_at IS NULL THEN
                PERFORM users_seatcount_add(OLD.organization_id, 'users', -1);
            END IF;
            IF NEW.deleted_at IS NULL THEN
                PERFORM users_seatcount_add(NEW.organization_id, 'users', 1);
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        f"""
        CREATE OR REPLACE FUNCTION users_seatcount_grants_ins() RETURNS trigger AS $$
        BEGIN
            INSERT INTO users_seatcount (organization_id, code, used)
            SELECT organization_id, service, COUNT(*) FROM new_rows
            GROUP BY organization_id, service
            ON CONFLICT (organization_id, code)
            DO UPDATE SET used = users_seatcount.used + EXCLUDED.used;
            UPDATE users_user u SET service_count = u.service_count + d.n
            FROM (SELECT user_id, COUNT(*) AS n FROM new_rows WHERE service NOT IN {LEVELED}
                  GROUP BY user_id) d
            WHERE u.id = d.user_id;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        f"""
        CREATE OR REPLACE FUNCTION users_seatcount_grants_del() RETURNS trigger AS $$
        BEGIN
            UPDATE users_seatcount s SET used = s.used - d.n
            FROM (SELECT organization_id, service, COUNT(*) AS n FROM old_rows
                  GROUP BY organization_id, service) d
            WHERE s.organization_id = d.organization_id AND s.code = d.service;
            UPDATE users_user u SET service_count = u.service_count - d.n
            FROM (SELECT user_id, COUNT(*) AS n FROM old_rows WHERE service NOT IN {LEVELED}
                  GROUP BY user_id) d
            WHERE u.id = d.user_id;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        f"""
        CREATE OR REPLACE FUNCTION users_seatcount_grants_upd() RETURNS trigger AS $$
        BEGIN
            PERFORM users_seatcount_add(OLD.organization_id, OLD.service, -1);
            PERFORM users_seatcount_add(NEW.organization_id, NEW.service, 1);
            IF OLD.service NOT IN {LEVELED} THEN
                UPDATE users_user SET service_count = service_count - 1 WHERE id = OLD.user_id;
            END IF;
            IF NEW.service NOT IN {LEVELED} THEN
                UPDATE users_user SET service_count = service_count + 1 WHERE id = NEW.user_id;
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql
        """,
        "CREATE OR REPLACE TRIGGER users_seatcount_users_ins AFTER INSERT ON users_user "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION users_seatcount_users_ins()",
        "CREATE OR REPLACE TRIGGER users_seatcount_users_del AFTER DELETE ON users_user "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION users_seatcount_users_del()",
        "CREATE OR REPLACE TRIGGER users_seatcount_users_upd "
        "AFTER UPDATE OF deleted_at, organization_id ON users_user FOR EACH ROW "
        "WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at "
        "OR OLD.organization_id IS DISTINCT FROM NEW.organization_id) "
        "EXECUTE FUNCTION users_seatcount_users_upd()",
        "CREATE OR REPLACE TRIGGER users_seatcount_grants_ins AFTER INSERT "
        "ON permissions_servicegrant REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION users_seatcount_grants_ins()",
        "CREATE OR REPLACE TRIGGER users_seatcount_grants_del AFTER DELETE "
        "ON permissions_servicegrant REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION users_seatcount_grants_del()",
        "CREATE OR REPLACE TRIGGER users_seatcount_grants_upd "
        "AFTER UPDATE OF service, organization_id, user_id ON permissions_servicegrant "
        "FOR EACH ROW WHEN (OLD.service IS DISTINCT FROM NEW.service "
        "OR OLD.organization_id IS DISTINCT FROM NEW.organization_id "
        "OR OLD.user_id IS DISTINCT FROM NEW.user_id) "
        "EXECUTE FUNCTION users_seatcount_grants_upd()",
    ]


def _add(org: str, code: str) -> str:
    return (
        "INSERT INTO users_seatcount (organization_id, code, used) "
        f"VALUES ({org}, {code}, 1) "
        "ON CONFLICT (organization_id, code) DO UPDATE SET used = used + 1;"
    )


def _remove(org: str, code: str) -> str:
    return (
        f"UPDATE users_seatcount SET used = used - 1 WHERE organization_id = {org} "
        f"AND code = {code};"
    )


def _services(sign: str, row: str, LEVELED: str) -> str:
    return (
        f"UPDATE users_user SET service_count = service_count {sign} 1 "
        f"WHERE id = {row}.user_id AND {row}.service NOT IN {LEVELED};"
    )


def _sqlite(LEVELED: str) -> list[str]:
    return [
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_users_ins AFTER INSERT ON users_user "
        "WHEN NEW.deleted_at IS NULL BEGIN " + _add("NEW.organization_id", "'users'") + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_users_del AFTER DELETE ON users_user "
        "WHEN OLD.deleted_at IS NULL BEGIN " + _remove("OLD.organization_id", "'users'") + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_users_upd_old "
        "AFTER UPDATE OF deleted_at, organization_id ON users_user "
        "WHEN OLD.deleted_at IS NULL AND (NEW.deleted_at IS NOT NULL "
        "OR OLD.organization_id IS NOT NEW.organization_id) BEGIN "
        + _remove("OLD.organization_id", "'users'")
        + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_users_upd_new "
        "AFTER UPDATE OF deleted_at, organization_id ON users_user "
        "WHEN NEW.deleted_at IS NULL AND (OLD.deleted_at IS NOT NULL "
        "OR OLD.organization_id IS NOT NEW.organization_id) BEGIN "
        + _add("NEW.organization_id", "'users'")
        + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_grants_ins AFTER INSERT "
        "ON permissions_servicegrant BEGIN "
        + _add("NEW.organization_id", "NEW.service")
        + " "
        + _services("+", "NEW", LEVELED)
        + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_grants_del AFTER DELETE "
        "ON permissions_servicegrant BEGIN "
        + _remove("OLD.organization_id", "OLD.service")
        + " "
        + _services("-", "OLD", LEVELED)
        + " END",
        "CREATE TRIGGER IF NOT EXISTS users_seatcount_grants_upd "
        "AFTER UPDATE OF service, organization_id, user_id ON permissions_servicegrant "
        "WHEN OLD.service IS NOT NEW.service OR OLD.organization_id IS NOT NEW.organization_id "
        "OR OLD.user_id IS NOT NEW.user_id BEGIN "
        + _remove("OLD.organization_id", "OLD.service")
        + " "
        + _services("-", "OLD", LEVELED)
        + " "
        + _add("NEW.organization_id", "NEW.service")
        + " "
        + _services("+", "NEW", LEVELED)
        + " END",
    ]


TRIGGER_NAMES = {
    "postgresql": [
        "users_seatcount_users_ins",
        "users_seatcount_users_del",
        "users_seatcount_users_upd",
        "users_seatcount_grants_ins",
        "users_seatcount_grants_del",
        "users_seatcount_grants_upd",
    ],
    "sqlite": [
        "users_seatcount_users_ins",
        "users_seatcount_users_del",
        "users_seatcount_users_upd_old",
        "users_seatcount_users_upd_new",
        "users_seatcount_grants_ins",
        "users_seatcount_grants_del",
        "users_seatcount_grants_upd",
    ],
}


def _recount(LEVELED: str) -> list[str]:
    return [
        "DELETE FROM users_seatcount",
        "INSERT INTO users_seatcount (organization_id, code, used) "
        "SELECT organization_id, 'users', COUNT(*) FROM users_user WHERE deleted_at IS NULL "
        "GROUP BY organization_id",
        "INSERT INTO users_seatcount (organization_id, code, used) "
        "SELECT organization_id, service, COUNT(*) FROM permissions_servicegrant "
        "GROUP BY organization_id, service",
        "UPDATE users_user SET service_count = (SELECT COUNT(*) FROM permissions_servicegrant g "
        f"WHERE g.user_id = users_user.id AND g.service NOT IN {LEVELED})",
    ]


def statements(vendor: str, leveled: tuple[str, ...]) -> list[str]:
    """The DDL of every trigger (and PostgreSQL function) for these leveled services."""
    build = {"postgresql": _pg, "sqlite": _sqlite}.get(vendor)
    if build is None:
        raise NotImplementedError(f"counter triggers are not written for {vendor}")
    return build(_sql_list(leveled))


def install(connection, leveled: tuple[str, ...]) -> None:
    """Create (or replace) every trigger; idempotent."""
    if connection.vendor == "sqlite":
        uninstall(connection)  # SQLite has no CREATE OR REPLACE TRIGGER
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor, leveled):
            cursor.execute(sql)


def installed(connection) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


def recount(connection, leveled: tuple[str, ...]) -> None:
    """Rebuild every counter from the rows (after a restore, or to check the triggers)."""
    with connection.cursor() as cursor:
        for sql in _recount(_sql_list(leveled)):
            cursor.execute(sql)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        for name in TRIGGER_NAMES[connection.vendor]:
            table = "users_user" if "_users_" in name else "permissions_servicegrant"
            suffix = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}")


def reinstall_operation(leveled: tuple[str, ...]) -> migrations.RunPython:
    """A migration step that puts the triggers back (and recounts), for `leveled` services."""

    def forwards(apps, schema_editor):
        install(schema_editor.connection, leveled)
        recount(schema_editor.connection, leveled)

    return migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)
