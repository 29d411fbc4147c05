"""The counter triggers are installed by migrations with the SQL frozen there; these tests prove
that what the database runs is exactly what the current catalog asks for. A catalog change
without a new migration, or a migration that rebuilds a table (SQLite) without putting the
triggers back, fails here."""

import re

import pytest
from django.db import connection

from permissions import db_triggers
from permissions.models import SeatCount
from tests.factories import GrantFactory, OrganizationFactory, UserFactory


def _normalise(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip().rstrip(";")
    return sql.replace("IF NOT EXISTS ", "")


def _body(sql: str) -> str:
    """A PL/pgSQL function's body, between its dollar quotes."""
    match = re.search(r"\$(?:function)?\$(.*)\$(?:function)?\$", sql, re.S)
    assert match, sql
    return _normalise(match.group(1))


def installed_definitions() -> dict[str, str]:
    """{trigger or function name: its definition as the database reports it}."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "WHERE p.proname LIKE 'users_seatcount%%'"
            )
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        return dict(cursor.fetchall())


def _expected() -> list[tuple[str, str, str]]:
    """(kind, name, statement) of every statement for the current catalog."""
    expected = []
    for sql in db_triggers.statements(connection.vendor, db_triggers.CATALOG_LEVELED):
        kind, name = re.search(r"(FUNCTION|TRIGGER)\s+(?:IF NOT EXISTS\s+)?(\w+)", sql).groups()
        expected.append((kind.lower(), name, sql))
    return expected


def test_every_counter_trigger_is_installed_after_migrate(db):
    assert set(db_triggers.TRIGGER_NAMES[connection.vendor]) <= db_triggers.installed(connection)


def test_installed_triggers_match_the_catalog(db):
    installed = installed_definitions()
    for kind, name, sql in _expected():
        if connection.vendor == "postgresql":
            if kind != "function":
                continue  # the trigger statements only bind functions, checked by name above
            assert name in installed, name
            assert _body(installed[name]) == _body(sql), name
        else:
            assert name in installed, name
            assert _normalise(installed[name]) == _normalise(sql), name


def test_a_catalog_with_other_leveled_services_would_not_match(db):
    """The comparison above can fail: the SQL for another set of leveled services differs."""
    other = db_triggers.statements(connection.vendor, (*db_triggers.CATALOG_LEVELED, "phone"))
    current = db_triggers.statements(connection.vendor, db_triggers.CATALOG_LEVELED)
    assert other != current
    assert any("'phone'" in sql for sql in other)


@pytest.mark.django_db(transaction=True)
def test_reinstalling_is_idempotent_and_recounts():
    org = OrganizationFactory(slug="reinstall")
    user = UserFactory(organization=org)
    GrantFactory(user=user, service="phone")
    db_triggers.install(connection, db_triggers.CATALOG_LEVELED)
    db_triggers.install(connection, db_triggers.CATALOG_LEVELED)
    db_triggers.recount(connection, db_triggers.CATALOG_LEVELED)
    assert SeatCount.used_of(organization_id=org.pk, code="users") == 1
    assert SeatCount.used_of(organization_id=org.pk, code="phone") == 1
    assert set(db_triggers.TRIGGER_NAMES[connection.vendor]) <= db_triggers.installed(connection)
