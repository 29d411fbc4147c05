"""The seat counters (permissions.models.SeatCount) are kept by database triggers: after any write —
services, ORM saves, bulk inserts, raw deletes — they equal a real count of the rows."""

import pytest
from django.db import connection

from accounts.models import User
from audit.services import Actor
from permissions import catalog
from permissions.models import SeatCount, ServiceGrant
from tests.factories import AdminFactory, GrantFactory, OrganizationFactory, UserFactory
from tests.services import set_active, update_user, user_delete
from users import selectors
from users.changes import Change, apply_changes


def counted(org) -> dict[str, int]:
    real = {"users": User.objects.filter(organization=org).count()}
    for code in catalog.GRANTABLE_CODES:
        n = ServiceGrant.objects.filter(organization=org, service=code).count()
        if n:
            real[code] = n
    return real


def stored(org) -> dict[str, int]:
    return {
        code: used
        for code, used in SeatCount.objects.filter(organization=org).values_list("code", "used")
        if used or code == "users"
    }


def test_counters_follow_every_kind_of_write(org_a):
    admin = AdminFactory(organization=org_a)
    actor = Actor(user=admin, label="t")
    assert stored(org_a) == counted(org_a) == {"users": 1}

    users = UserFactory.create_batch(3, organization=org_a)  # ORM saves
    User.objects.bulk_create(
        [
            User(
                organization=org_a,
                login_id=f"b{i}@x.example.com",
                login_id_key=f"b{i}@x.example.com",
                name="B",
            )
            for i in range(4)
        ]
    )
    GrantFactory(user=users[0], service=catalog.PHONE)
    update_user(actor=actor, user=users[1], data={}, grants={catalog.PHONE: ""})
    ServiceGrant.objects.bulk_create(
        [ServiceGrant(organization=org_a, user=u, service=catalog.DASHBOARD) for u in users]
    )
    assert stored(org_a) == counted(org_a) == {"users": 8, "phone": 2, "dashboard": 3}

    user_delete(actor=actor, user=users[0])  # tombstone: seat and grants freed
    update_user(actor=actor, user=users[1], data={}, grants={})
    set_active(actor=actor, user=users[2], active=False)  # keeps its seat
    assert stored(org_a) == counted(org_a) == {"users": 7, "dashboard": 1}

    User.objects.filter(login_id_key__startswith="b").delete()  # raw delete, no tombstone
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM permissions_servicegrant")
    assert stored(org_a) == counted(org_a) == {"users": 3}


def test_moving_a_user_between_organizations_moves_the_seat(org_a, org_b):
    user = UserFactory(organization=org_a)
    User.all_objects.filter(pk=user.pk).update(organization=org_b)
    assert stored(org_a) == counted(org_a)
    assert stored(org_b) == counted(org_b)


def test_the_seat_meter_and_the_limits_read_the_counters(org_a, django_assert_num_queries):
    UserFactory.create_batch(5, organization=org_a)
    org = type(org_a).objects.select_related("contract").get(pk=org_a.pk)
    with django_assert_num_queries(1):
        meter = selectors.seat_meter(organization=org)
    assert meter.used == 5

    # A counter that says "full" refuses the next user and the next MiiTel Phone seat, however
    # few rows there are: the limit checks read the counters, not the tables.
    contract = org.contract
    contract.user_limit = 10
    contract.services = sorted({*contract.services, catalog.PHONE})
    contract.service_limits = {catalog.PHONE: 3}
    contract.save()
    SeatCount.objects.update_or_create(
        organization=org, code=SeatCount.USERS, defaults={"used": 10}
    )
    SeatCount.objects.update_or_create(organization=org, code=catalog.PHONE, defaults={"used": 3})
    actor = Actor(user=None, label="test")
    added = apply_changes(
        organization=org,
        actor=actor,
        changes=[
            Change(
                fields={"login_id": "one.more@a.example.com", "name": "One more"},
                generate_password=True,
            )
        ],
        commit=False,
    )
    assert [p.code for p in added.problems] == ["user_limit"]
    member = User.objects.filter(organization=org).first()
    granted = apply_changes(
        organization=org,
        actor=actor,
        changes=[Change(user_id=member.pk, grant={catalog.PHONE: ""})],
        commit=False,
    )
    assert [p.code for p in granted.problems] == ["seat_limit"]


@pytest.mark.django_db(transaction=True)
def test_counters_roll_back_with_the_transaction():
    from django.db import transaction

    org = OrganizationFactory(slug="rollback")
    UserFactory(organization=org)
    with pytest.raises(RuntimeError), transaction.atomic():
        UserFactory(organization=org)
        assert stored(org)["users"] == 2
        raise RuntimeError
    assert stored(org) == counted(org) == {"users": 1}


def test_service_count_follows_grants_and_survives_a_full_save(org_a):
    user = UserFactory(organization=org_a)
    GrantFactory(user=user, service=catalog.PHONE)
    GrantFactory(user=user, service=catalog.DASHBOARD)
    GrantFactory(user=user, service=catalog.MEETING_ACCESS, level="host")  # no icon: not counted
    assert User.objects.get(pk=user.pk).service_count == 2

    user.name = "Renamed"  # a stale in-memory service_count (0) must not be written back
    user.save()
    assert User.objects.get(pk=user.pk).service_count == 2

    ServiceGrant.objects.filter(user=user, service=catalog.PHONE).delete()
    assert User.objects.get(pk=user.pk).service_count == 1
