"""The idle filter's index (accounts migration 0009, docs/performance.md): on the expression the
filter uses, for live users, with statistics on PostgreSQL."""

import pytest
from django.db import connection

from accounts.models import User
from tests.factories import UserFactory
from users import selectors


def test_the_idle_filter_is_the_indexed_expression(org_a):
    UserFactory(organization=org_a)
    sql = str(selectors.user_list(organization=org_a, idle="30").query)
    assert 'COALESCE("users_user"."last_login", "users_user"."created_at") <' in sql


@pytest.mark.django_db
def test_the_index_and_its_statistics_exist(is_postgres):
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, User._meta.db_table)
        assert "users_org_idle_idx" in indexes
        if is_postgres:
            cursor.execute(
                "SELECT stxname FROM pg_statistic_ext WHERE stxname = 'users_idle_stats'"
            )
            assert cursor.fetchone() is not None
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_org_idle_idx'")
            definition = cursor.fetchone()[0]
            assert "INCLUDE (last_login, created_at)" in definition
            assert "WHERE (deleted_at IS NULL)" in definition
