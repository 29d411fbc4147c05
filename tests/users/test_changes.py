"""The change service (users.changes.apply_changes) itself: a batch is checked as a whole,
against the state after it, and written all or nothing, with one audit record per user."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone, translation

from accounts.models import Contract, User, UserSession
from audit.models import AuditEvent
from audit.services import Actor
from permissions import catalog
from permissions.models import SeatCount, ServiceGrant
from permissions.services import grants_of
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users.changes import ADD, DELETE, ERROR, UNCHANGED, UPDATE, Change, apply_changes

PASSWORD = "Kx7#pq92Lm"


@pytest.fixture
def actor(admin_a):
    return Actor(user=admin_a, label=admin_a.login_id)


def run(org, actor, *changes, commit=True):
    return apply_changes(organization=org, actor=actor, changes=list(changes), commit=commit)


def add(login_id, name="New User", grants=None, **fields):
    return Change(
        fields={"login_id": login_id, "name": name, **fields},
        grants=grants or {},
        password=PASSWORD,
    )


def state(org):
    return (
        list(User.all_objects.filter(organization=org).order_by("pk").values()),
        list(ServiceGrant.objects.filter(organization=org).order_by("pk").values()),
        AuditEvent.objects.count(),
    )


def codes(result) -> list[tuple[int, str]]:
    return [(p.index, p.code) for p in result.problems]


# --- the batch as a whole -------------------------------------------------------------------------


def test_two_users_may_swap_extensions_in_one_batch(org_a, actor):
    a = UserFactory(organization=org_a, extension="300")
    b = UserFactory(organization=org_a, extension="301")
    result = run(
        org_a,
        actor,
        Change(user_id=a.pk, fields={"extension": "301"}),
        Change(user_id=b.pk, fields={"extension": "300"}),
    )
    assert result.ok, codes(result)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.extension, b.extension) == ("301", "300")


def test_two_users_may_swap_login_ids_in_one_batch(org_a, actor):
    a = UserFactory(organization=org_a, login_id="a@a.example.com")
    b = UserFactory(organization=org_a, login_id="b@a.example.com")
    result = run(
        org_a,
        actor,
        Change(user_id=a.pk, fields={"login_id": "B@a.example.com"}),
        Change(user_id=b.pk, fields={"login_id": "a@a.example.com"}),
    )
    assert result.ok, codes(result)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.login_id, a.login_id_key) == ("B@a.example.com", "b@a.example.com")
    assert (b.login_id, b.login_id_key) == ("a@a.example.com", "a@a.example.com")


def test_an_extension_taken_by_someone_outside_the_batch_is_refused(org_a, actor):
    UserFactory(organization=org_a, extension="300")
    a = UserFactory(organization=org_a, extension="301")
    result = run(org_a, actor, Change(user_id=a.pk, fields={"extension": "300"}))
    assert codes(result) == [(0, "extension_taken")]


def test_a_deletion_frees_a_seat_a_new_user_takes_in_the_same_batch(org_a, actor, member_a):
    Contract.objects.filter(organization=org_a).update(user_limit=2)  # admin + member: full
    org_a.refresh_from_db()
    before = run(org_a, actor, add("n1@a.example.com"), commit=False)
    assert codes(before) == [(0, "user_limit")]
    result = run(org_a, actor, Change(user_id=member_a.pk, delete=True), add("n1@a.example.com"))
    assert result.ok, codes(result)
    assert [o.status for o in result] == [DELETE, ADD]
    assert SeatCount.used_of(organization_id=org_a.pk, code=SeatCount.USERS) == 2


def test_a_phone_seat_released_in_the_batch_can_be_taken(org_a, actor):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 1})
    org_a.refresh_from_db()
    holder = UserFactory(organization=org_a)
    GrantFactory(user=holder, service=catalog.PHONE)
    taker = UserFactory(organization=org_a)
    result = run(
        org_a,
        actor,
        Change(user_id=taker.pk, grant={catalog.PHONE: ""}),
        Change(user_id=holder.pk, revoke=[catalog.PHONE]),
    )
    assert result.ok, codes(result)
    assert grants_of(taker) == {catalog.PHONE: ""}
    assert grants_of(holder) == {}


def test_the_same_user_twice_in_a_batch_is_refused(org_a, actor, member_a):
    result = run(
        org_a,
        actor,
        Change(user_id=member_a.pk, fields={"name": "One"}),
        Change(user_id=member_a.pk, fields={"name": "Two"}),
    )
    assert codes(result) == [(1, "login_id_duplicate")]


def test_one_refused_change_writes_nothing_of_the_others(org_a, actor, member_a):
    before = state(org_a)
    result = run(
        org_a,
        actor,
        Change(user_id=member_a.pk, fields={"name": "Renamed"}),
        add("ok@a.example.com"),
        add("bad@a.example.com", extension="12"),
    )
    assert [o.status for o in result] == [UPDATE, ADD, ERROR]
    assert not result.committed
    assert state(org_a) == before


def test_the_dry_run_gives_the_same_verdicts_and_writes_nothing(org_a, actor, member_a):
    changes = [Change(user_id=member_a.pk, fields={"name": "Renamed"}), add("n@a.example.com")]
    before = state(org_a)
    dry = run(org_a, actor, *changes, commit=False)
    assert [o.status for o in dry] == [UPDATE, ADD]
    assert state(org_a) == before
    done = run(org_a, actor, *changes)
    assert [o.status for o in done] == [UPDATE, ADD]
    assert [o.changes for o in done] == [o.changes for o in dry]


def test_another_organizations_user_is_missing_and_untouched(org_a, actor, admin_b):
    before = state(admin_b.organization)
    with translation.override("en"):
        result = run(org_a, actor, Change(user_id=admin_b.pk, fields={"name": "Hijacked"}))
    assert codes(result) == [(0, "user_missing")]
    assert result.problems[0].message == "This user does not exist."
    assert state(admin_b.organization) == before


# --- fields that only some channels set -----------------------------------------------------------


@pytest.mark.parametrize("value", ["x" * 256, "tab\there"])
def test_an_external_id_is_255_printable_characters_at_most(org_a, actor, member_a, value):
    result = run(org_a, actor, Change(user_id=member_a.pk, fields={"external_id": value}))
    assert codes(result) == [(0, "external_id_invalid")]
    ok = run(org_a, actor, Change(user_id=member_a.pk, fields={"external_id": "x" * 255}))
    assert ok.ok


def test_a_scheduled_deactivation_is_in_the_future(org_a, actor, member_a):
    past = timezone.now() - timedelta(minutes=1)
    result = run(org_a, actor, Change(user_id=member_a.pk, fields={"deactivate_at": past}))
    assert codes(result) == [(0, "deactivate_at_past")]
    soon = timezone.now() + timedelta(hours=1)
    ok = run(org_a, actor, Change(user_id=member_a.pk, fields={"deactivate_at": soon}))
    assert ok.ok
    member_a.refresh_from_db()
    assert member_a.deactivate_at == soon


# --- writing ----------------------------------------------------------------------------------


def test_every_written_change_raises_the_version_and_is_audited_with_it(org_a, actor, member_a):
    version = member_a.version
    run(org_a, actor, Change(user_id=member_a.pk, fields={"name": "Renamed"}))
    run(org_a, actor, Change(user_id=member_a.pk, grant={catalog.DASHBOARD: ""}))
    member_a.refresh_from_db()
    assert member_a.version == version + 2
    events = AuditEvent.objects.filter(target=member_a).order_by("id")
    assert [(e.action, e.target_version) for e in events] == [
        (AuditEvent.Action.USER_UPDATE, version + 1),
        (AuditEvent.Action.PERMISSIONS_CHANGE, version + 2),
    ]
    assert events[0].changes == {"name": ["Member A", "Renamed"]}
    assert events[1].changes == {"services": [[], ["dashboard"]]}


def test_nothing_to_change_writes_nothing(org_a, actor, member_a):
    before = state(org_a)
    result = run(org_a, actor, Change(user_id=member_a.pk, fields={"name": member_a.name}))
    assert [o.status for o in result] == [UNCHANGED]
    assert state(org_a) == before


def test_deactivating_many_ends_their_sessions_in_one_batch(org_a, actor):
    users = UserFactory.create_batch(3, organization=org_a)
    for user in users:
        Client().force_login(user)
    assert UserSession.objects.filter(user__in=users).count() == 3
    result = run(org_a, actor, *(Change(user_id=u.pk, fields={"is_active": False}) for u in users))
    assert result.ok
    assert not UserSession.objects.filter(user__in=users).exists()
    assert Session.objects.count() == 0
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        AuditEvent.Action.USER_DEACTIVATE
    }


def test_a_generated_password_is_returned_once_and_stored_hashed(org_a, actor):
    result = run(
        org_a,
        actor,
        Change(fields={"login_id": "gen@a.example.com", "name": "Gen"}, generate_password=True),
    )
    outcome = result.outcomes[0]
    assert outcome.temporary_password
    user = User.objects.get(pk=outcome.user.pk)
    assert user.check_password(outcome.temporary_password)
    assert user.must_change_password
    assert outcome.temporary_password not in str(list(AuditEvent.objects.values()))


def test_an_admin_added_in_the_batch_lets_the_last_one_go(org_a, actor, admin_a):
    other = AdminFactory(organization=org_a)
    result = run(
        org_a,
        Actor(user=None, label="operator"),
        Change(user_id=other.pk, fields={"is_active": False}),
        Change(user_id=admin_a.pk, fields={"role": User.Role.MEMBER}),
    )
    assert codes(result) == [(0, "last_admin"), (1, "last_admin")]
    result = run(
        org_a,
        Actor(user=None, label="operator"),
        Change(user_id=other.pk, fields={"is_active": False}),
        Change(user_id=admin_a.pk, fields={"role": User.Role.MEMBER}),
        add("new.admin@a.example.com", role=User.Role.ADMIN),
    )
    assert result.ok, codes(result)
