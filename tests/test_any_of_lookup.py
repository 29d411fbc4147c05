"""accounts.batching's `any_of` lookup: IN over a list, one array parameter on PostgreSQL."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User, UserSession
from permissions.models import ServiceGrant
from tests.factories import GrantFactory, UserFactory


def test_any_of_matches_like_in_for_keys_and_foreign_keys(org_a, is_postgres):
    users = UserFactory.create_batch(3, organization=org_a)
    GrantFactory(user=users[0], service="phone")
    GrantFactory(user=users[2], service="phone")
    ids = [users[0].pk, users[2].pk, 10**12]

    with CaptureQueriesContext(connection) as ctx:
        found = set(User.objects.filter(pk__any_of=ids).values_list("pk", flat=True))
    granted = set(
        ServiceGrant.objects.filter(user_id__any_of=ids).values_list("user_id", flat=True)
    )

    assert found == granted == {users[0].pk, users[2].pk}
    sql = ctx.captured_queries[0]["sql"]
    assert ("= ANY(" in sql) if is_postgres else (" IN (" in sql)


def test_any_of_an_empty_list_matches_nothing(org_a):
    UserFactory(organization=org_a)
    assert not User.objects.filter(pk__any_of=[]).exists()
    assert not UserSession.objects.filter(user_id__any_of=[]).exists()
