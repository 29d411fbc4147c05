"""Deleting a user through the change service (docs/rules.md): one transaction that leaves a
tombstone, purges By-user rows, funnel memberships, grants, sessions and the login ID, keeps
every history row untouched, frees a seat, records an audit event, and refuses to delete
yourself or the last active admin. Its cost does not grow with the user's history, and a
failure anywhere in the middle leaves everything exactly as it was."""

import datetime as dt
import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

import analytics.services
from accounts.models import User, UserSession
from analytics import selectors
from analytics.generate import generate_by_user_days, generate_calls
from analytics.models import (
    BookmarkedFilter,
    ByUserDaily,
    CallRecord,
    FunnelTeamMember,
    Meeting,
    MeetingParticipant,
    TableTheme,
)
from audit.models import AuditEvent
from audit.services import Actor
from permissions import catalog
from permissions.models import ServiceGrant
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    CallRecordFactory,
    FunnelTeamFactory,
    FunnelTeamMemberFactory,
    MeetingFactory,
    MeetingParticipantFactory,
    TableThemeFactory,
    by_user_days,
    page,
)
from tests.factories import PASSWORD, AdminFactory, GrantFactory, UserFactory
from tests.services import create_user, user_delete
from users import changes as user_changes
from users import selectors as user_selectors

NAME = "Kato Hana"
LOGIN_ID = "kato@a.example.com"
NEW_PASSWORD = "Vq7#mZ2!pLx9"
HISTORY_TABLES = (
    "analytics_callrecord",
    "analytics_meeting",
    "analytics_meetingparticipant",
    "analytics_tabletheme",
    "analytics_bookmarkedfilter",
)


def actor(user: User) -> Actor:
    return Actor(user=user, label=user.login_id)


OPERATOR = Actor(user=None, label="operator:test")


@pytest.fixture
def target(org_a, admin_a):
    """A member with an extension, three services, and a bit of everything."""
    user = UserFactory(organization=org_a, login_id=LOGIN_ID, name=NAME, extension="201")
    for code in (catalog.PHONE, catalog.CALL_HISTORY, catalog.DASHBOARD):
        GrantFactory(user=user, service=code)
    return user


def add_activity(user: User, other: User) -> None:
    """History, By-user rows and memberships of `user`, mixed with `other`'s."""
    CallRecordFactory.create_batch(4, user=user)
    by_user_days(user, 6)
    hosted = MeetingFactory(host=user, uploader=user, allowed_users=[other])
    MeetingFactory(host=user, access=Meeting.Access.HOST)
    MeetingFactory(host=other, uploader=user, access=Meeting.Access.SPECIFIED, allowed_users=[user])
    MeetingParticipantFactory(meeting=hosted, user=user)
    MeetingParticipantFactory(meeting=hosted, user=other)
    TableThemeFactory(creator=user)
    BookmarkedFilterFactory(creator=user)
    team = FunnelTeamFactory(organization=user.organization)
    FunnelTeamMemberFactory(team=team, user=user)
    FunnelTeamMemberFactory(team=team, user=other)


@pytest.fixture
def activity(target, member_a, admin_b):
    add_activity(target, member_a)
    CallRecordFactory.create_batch(2, user=member_a)
    by_user_days(member_a, 3)
    GrantFactory(user=member_a, service=catalog.PHONE)
    # Another organization's data, which a deletion in A must not touch.
    CallRecordFactory.create_batch(2, user=admin_b)
    by_user_days(admin_b, 2)
    GrantFactory(user=admin_b, service=catalog.PHONE)
    FunnelTeamMemberFactory(team=FunnelTeamFactory(organization=admin_b.organization), user=admin_b)


def rows(model, **filters) -> list[dict]:
    return list(model.objects.filter(**filters).order_by("pk").values())


def history_snapshot() -> dict:
    return {
        model.__name__: rows(model)
        for model in (CallRecord, Meeting, MeetingParticipant, TableTheme, BookmarkedFilter)
    } | {"allowed": rows(Meeting.allowed_users.through)}


def user_row(user: User) -> dict:
    return User.all_objects.filter(pk=user.pk).values().get()


def sessions_of(user: User) -> list[str]:
    return sorted(
        s.session_key
        for s in Session.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(user.pk)
    )


def sign_in(client: Client, login_id: str, password: str) -> bool:
    """Sign in through the sign-in page, as a person does; True when it worked."""
    response = client.post(reverse("login"), {"username": login_id, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


def can_sign_in(login_id: str, password: str) -> bool:
    return sign_in(Client(), login_id, password)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def delete(target: User, by: User) -> dict[str, int]:
    return user_delete(actor=actor(by), user=target)


# --- The tombstone --------------------------------------------------------------------------------


def test_tombstone_keeps_the_row_and_the_name_and_nothing_else_personal(admin_a, target, activity):
    target.last_login = timezone.now()
    target.save(update_fields=["last_login"])
    assert can_sign_in(LOGIN_ID, PASSWORD)
    started = timezone.now()

    delete(target, admin_a)

    assert not User.objects.filter(pk=target.pk).exists()
    tombstone = User.all_objects.get(pk=target.pk)
    assert tombstone.name == NAME
    assert tombstone.organization_id == target.organization_id
    assert (tombstone.login_id, tombstone.login_id_key, tombstone.extension) == ("", "", "")
    assert not tombstone.has_usable_password()
    assert tombstone.deleted_at is not None
    assert started <= tombstone.deleted_at <= timezone.now()
    assert tombstone.is_active is False
    assert tombstone.last_login is None
    assert tombstone.is_deleted
    with translation.override("en"):
        assert tombstone.display_name == f"{NAME} (Deleted)"
    with translation.override("ja"):
        assert tombstone.display_name == f"{NAME}（削除済み）"
    # The old credentials open nothing.
    assert not can_sign_in(LOGIN_ID, PASSWORD)


def test_returns_what_was_removed(admin_a, target, activity):
    assert delete(target, admin_a) == {
        "by_user_rows": 6,
        "funnel_memberships": 1,
        "grants": 3,
        # The identity provider's groups the user was in (scim, through users.signals).
        "group_memberships": 0,
        "sessions": 0,
    }


@pytest.mark.parametrize(
    ("where", "login_id"),
    [
        ("same_org", LOGIN_ID),
        ("same_org", "Kato@A.Example.com"),
        ("other_org", LOGIN_ID),
    ],
)
def test_login_id_can_be_given_to_a_new_user_at_once(
    admin_a, admin_b, org_a, org_b, target, activity, where, login_id
):
    delete(target, admin_a)
    organization, admin = (org_a, admin_a) if where == "same_org" else (org_b, admin_b)

    newcomer = create_user(
        actor=actor(admin),
        organization=organization,
        login_id=login_id,
        name="Newcomer",
        password=NEW_PASSWORD,
        role=User.Role.ADMIN,
    )

    assert newcomer.pk != target.pk
    assert User.objects.get(login_id_key=LOGIN_ID.lower()) == newcomer
    assert can_sign_in(LOGIN_ID, NEW_PASSWORD)
    # The newcomer inherits nothing of the old user.
    assert ServiceGrant.objects.filter(user=newcomer).count() == 0
    assert not selectors.call_list(organization=organization, user=newcomer).exists()
    assert selectors.by_user_table(organization=organization, since_day=None, user=newcomer) == []
    assert not FunnelTeamMember.objects.filter(user=newcomer).exists()
    assert not selectors.visible_meetings(viewer=newcomer).filter(host=newcomer).exists()
    # ... and neither do the pages filtered by the newcomer.
    User.objects.filter(pk=admin.pk).update(locale=User.Locale.ENGLISH)
    client = signed_in(admin)
    calls = page(client.get(reverse("analytics:calls"), {"user": newcomer.pk}))
    assert calls.table("Calls, newest first") == [["No calls."]]
    board = page(client.get(reverse("analytics:dashboard"), {"user": newcomer.pk, "days": 0}))
    assert board.table("Calls by user") == [["No By-user data for this period."]]
    assert board.value("Calls") == "0"
    # The old user's history is still theirs.
    assert CallRecord.objects.filter(user_id=target.pk).count() == 4


def test_extension_number_is_free_again_in_the_organization(org_a, admin_a, target):
    delete(target, admin_a)

    newcomer = create_user(
        actor=actor(admin_a),
        organization=org_a,
        login_id="newcomer@a.example.com",
        name="Newcomer",
        password=NEW_PASSWORD,
        extension="201",
    )

    assert newcomer.extension == "201"
    assert User.all_objects.get(pk=target.pk).extension == ""


# --- What is purged, what is kept -----------------------------------------------------------------


def test_purges_grants_memberships_and_by_user_rows_of_that_user_only(
    admin_a, member_a, admin_b, target, activity
):
    others = [u.pk for u in (admin_a, member_a, admin_b)]
    before = {
        model.__name__: rows(model, user_id__in=others)
        for model in (ServiceGrant, FunnelTeamMember, ByUserDaily)
    }
    assert all(
        rows(model, user_id=target.pk) for model in (ServiceGrant, FunnelTeamMember, ByUserDaily)
    )

    delete(target, admin_a)

    for model in (ServiceGrant, FunnelTeamMember, ByUserDaily):
        assert rows(model, user_id=target.pk) == [], model.__name__
        assert rows(model, user_id__in=others) == before[model.__name__], model.__name__


def test_history_rows_are_neither_updated_nor_deleted(admin_a, target, activity):
    before = history_snapshot()
    assert len(before["CallRecord"]) == 8

    with CaptureQueriesContext(connection) as queries:
        delete(target, admin_a)

    statements = [q["sql"] for q in queries.captured_queries]
    # The capture sees the deletion's own writes...
    assert any(re.match(r"\s*DELETE\b.*analytics_byuserdaily", s, re.S | re.I) for s in statements)
    # ... and none of them touches a history table.
    writes = [s for s in statements if re.match(r"\s*(UPDATE|DELETE)\b", s, re.I)]
    for table in HISTORY_TABLES:
        offending = [s for s in writes if table in s]
        assert offending == [], table
    assert history_snapshot() == before


def test_other_users_history_is_unchanged_and_shown_as_before(admin_a, member_a, target, activity):
    before = [
        (c.pk, c.user.display_name)
        for c in selectors.call_list(organization=member_a.organization, user=member_a)
    ]
    delete(target, admin_a)
    after = [
        (c.pk, c.user.display_name)
        for c in selectors.call_list(organization=member_a.organization, user=member_a)
    ]
    assert after == before


# --- Sessions, seats, audit -----------------------------------------------------------------------


def test_sessions_of_the_user_are_deleted_and_their_next_request_goes_to_sign_in(
    org_a, admin_a, target, activity
):
    User.objects.filter(pk=target.pk).update(role=User.Role.ADMIN)
    browser = Client()
    assert sign_in(browser, LOGIN_ID, PASSWORD)
    phone = signed_in(target)
    admin_browser = signed_in(admin_a)
    calls_url = reverse("analytics:calls")
    assert browser.get(calls_url).status_code == 200
    assert len(sessions_of(target)) == 2
    assert UserSession.objects.filter(user=target).count() == 2
    admins_sessions = sessions_of(admin_a)

    delete(target, admin_a)

    assert sessions_of(target) == []
    assert UserSession.objects.filter(user_id=target.pk).count() == 0
    assert sessions_of(admin_a) == admins_sessions
    for client in (browser, phone):
        response = client.get(calls_url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert admin_browser.get(calls_url).status_code == 200


def test_reports_the_number_of_sessions_ended(admin_a, target):
    """The count returned (and written to the audit detail) is of sessions, as the impact
    screen counts them: two sign-ins, two sessions."""
    signed_in(target)
    signed_in(target)
    impact = selectors.deletion_impact(user=target)
    assert impact["sessions"] == 2

    removed = delete(target, admin_a)

    assert removed["sessions"] == 2
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_DELETE)
    assert "sessions=2" in event.detail.split(", ")


def test_a_seat_is_freed(org_a, admin_a, member_a, target):
    GrantFactory(user=member_a, service=catalog.PHONE)
    before = user_selectors.seat_meter(organization=org_a)
    phone_before = {label: used for label, used, _limit in before.services}

    delete(target, admin_a)

    after = user_selectors.seat_meter(organization=org_a)
    phone_after = {label: used for label, used, _limit in after.services}
    assert after.used == before.used - 1 == 2
    assert User.objects.filter(organization=org_a).count() == 2
    label = catalog.get(catalog.PHONE).label
    assert phone_after[label] == phone_before[label] - 1 == 1


def test_the_freed_seat_can_be_taken_when_the_contract_was_full(org_a, admin_a, target):
    org_a.contract.user_limit = 2
    org_a.contract.save()
    with pytest.raises(ValidationError):
        create_user(
            actor=actor(admin_a),
            organization=org_a,
            login_id="x@a.example.com",
            name="X",
            password=NEW_PASSWORD,
        )

    delete(target, admin_a)

    create_user(
        actor=actor(admin_a),
        organization=org_a,
        login_id="x@a.example.com",
        name="X",
        password=NEW_PASSWORD,
    )
    assert User.objects.filter(organization=org_a).count() == 2


def test_an_audit_event_records_the_deletion_without_the_password(org_a, admin_a, target, activity):
    password_hash = User.objects.get(pk=target.pk).password

    delete(target, admin_a)

    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_DELETE)
    assert event.target_id == target.pk
    assert event.target_label == LOGIN_ID
    assert event.actor_id == admin_a.pk
    assert event.actor_label == admin_a.login_id
    assert event.organization_id == org_a.pk
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.changes["login_id"] == [LOGIN_ID, None]
    assert event.changes["extension"] == ["201", None]
    assert event.changes["services"] == [
        sorted([catalog.CALL_HISTORY, catalog.DASHBOARD, catalog.PHONE]),
        [],
    ]
    assert "password" not in event.changes
    recorded = json.dumps(event.changes) + event.detail
    assert password_hash not in recorded
    assert PASSWORD not in recorded
    assert "by_user_rows=6" in event.detail


# --- Guards ---------------------------------------------------------------------------------------


def test_cannot_delete_yourself(admin_a, member_a):
    AdminFactory(organization=admin_a.organization)  # not the last admin: only "self" applies
    GrantFactory(user=admin_a, service=catalog.PHONE)
    by_user_days(admin_a, 2)
    before = user_row(admin_a)

    with pytest.raises(ValidationError) as excinfo:
        delete(admin_a, admin_a)

    assert excinfo.value.code == "self_delete"
    assert user_row(admin_a) == before
    assert ServiceGrant.objects.filter(user=admin_a).count() == 1
    assert ByUserDaily.objects.filter(user=admin_a).count() == 2
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_DELETE).exists()


@pytest.mark.parametrize("second_admin", ["none", "deactivated"])
def test_cannot_delete_the_last_active_admin(org_a, admin_a, member_a, second_admin):
    if second_admin == "deactivated":
        AdminFactory(organization=org_a, is_active=False)
    by_user_days(admin_a, 2)
    before = user_row(admin_a)

    for who in (OPERATOR, actor(member_a)):
        with pytest.raises(ValidationError) as excinfo:
            user_delete(actor=who, user=admin_a)
        assert excinfo.value.code == "last_admin"

    assert user_row(admin_a) == before
    assert ByUserDaily.objects.filter(user=admin_a).count() == 2
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_DELETE).exists()


def test_an_admin_can_be_deleted_while_another_active_admin_remains(org_a, admin_a):
    other = AdminFactory(organization=org_a)
    user_delete(actor=OPERATOR, user=admin_a)
    assert User.all_objects.get(pk=admin_a.pk).is_deleted
    with pytest.raises(ValidationError) as excinfo:
        user_delete(actor=OPERATOR, user=other)
    assert excinfo.value.code == "last_admin"


def test_a_deactivated_admin_can_be_deleted(org_a, admin_a):
    inactive = AdminFactory(organization=org_a, is_active=False)
    delete(inactive, admin_a)
    assert User.all_objects.get(pk=inactive.pk).is_deleted


# --- Cost -----------------------------------------------------------------------------------------


def _user_with_history(organization, n: int, login_id: str) -> User:
    user = UserFactory(organization=organization, login_id=login_id)
    GrantFactory(user=user, service=catalog.PHONE)
    FunnelTeamMemberFactory(team__organization=organization, user=user)
    MeetingFactory(host=user)
    signed_in(user)
    assert generate_by_user_days(organization=organization, user_ids=[user.pk], days=n) == n
    assert generate_calls(organization=organization, user_ids=[user.pk], per_user=n) == n
    return user


def test_query_count_does_not_grow_with_the_users_history(org_a, admin_a):
    small = _user_with_history(org_a, 10, "small@a.example.com")
    large = _user_with_history(org_a, 2000, "large@a.example.com")
    assert ByUserDaily.objects.filter(user=large).count() == 2000
    assert CallRecord.objects.filter(user=large).count() == 2000

    with CaptureQueriesContext(connection) as few:
        removed_small = delete(small, admin_a)
    with CaptureQueriesContext(connection) as many:
        removed_large = delete(large, admin_a)

    assert removed_small["by_user_rows"] == 10
    assert removed_large["by_user_rows"] == 2000
    assert len(many.captured_queries) == len(few.captured_queries)
    assert CallRecord.objects.filter(user_id=large.pk).count() == 2000


# --- All or nothing -------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def _fail_sessions(monkeypatch, target):
    def boom(**kwargs):
        # The By-user rows and grants are already gone inside the transaction.
        assert not ByUserDaily.objects.filter(user_id=target.pk).exists()
        assert not ServiceGrant.objects.filter(user_id=target.pk).exists()
        raise Boom("sessions")

    monkeypatch.setattr(user_changes, "users_sessions_end", boom)


def _fail_audit(monkeypatch, target):
    def boom(*args, **kwargs):
        # Everything else is done: the tombstone is written.
        assert User.all_objects.get(pk=target.pk).deleted_at is not None
        assert sessions_of(target) == []
        raise Boom("audit")

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", boom)


def _fail_second_purge_delete(monkeypatch, target):
    real = analytics.services.FunnelTeamMember

    class Members:
        class objects:
            @staticmethod
            def filter(**kwargs):
                class Failing:
                    @staticmethod
                    def delete():
                        assert not ByUserDaily.objects.filter(user_id=target.pk).exists()
                        raise Boom("second delete of purge_user_activity")

                assert real.objects.filter(**kwargs).exists()
                return Failing()

    monkeypatch.setattr(analytics.services, "FunnelTeamMember", Members)


def _fail_tombstone_save(monkeypatch, target):
    real_save = User.save

    def boom(self, *args, **kwargs):
        if self.pk == target.pk and self.deleted_at is not None:
            raise Boom("tombstone save")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(User, "save", boom)


FAILURES = {
    "purge_second_delete": _fail_second_purge_delete,
    "user_sessions_end": _fail_sessions,
    "tombstone_save": _fail_tombstone_save,
    "audit_record": _fail_audit,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", list(FAILURES))
def test_a_failure_in_the_middle_leaves_everything_as_before(
    monkeypatch, org_a, admin_a, member_a, admin_b, target, activity, step
):
    User.objects.filter(pk=target.pk).update(role=User.Role.ADMIN)
    browser = Client()
    assert sign_in(browser, LOGIN_ID, PASSWORD)
    calls_url = reverse("analytics:calls")
    assert browser.get(calls_url).status_code == 200
    before = {
        "user": user_row(target),
        "by_user": rows(ByUserDaily, user_id=target.pk),
        "grants": rows(ServiceGrant, user_id=target.pk),
        "memberships": rows(FunnelTeamMember, user_id=target.pk),
        "sessions": sessions_of(target),
        "links": rows(UserSession, user_id=target.pk),
        "history": history_snapshot(),
        "audit": AuditEvent.objects.count(),
    }
    assert before["by_user"] and before["grants"] and before["memberships"] and before["sessions"]
    FAILURES[step](monkeypatch, target)

    with pytest.raises(Boom):
        delete(target, admin_a)
    monkeypatch.undo()

    after_user = user_row(target)
    assert after_user == before["user"]
    assert after_user["login_id"] == LOGIN_ID
    assert after_user["deleted_at"] is None
    assert after_user["is_active"] is True
    assert rows(ByUserDaily, user_id=target.pk) == before["by_user"]
    assert rows(ServiceGrant, user_id=target.pk) == before["grants"]
    assert rows(FunnelTeamMember, user_id=target.pk) == before["memberships"]
    assert sessions_of(target) == before["sessions"]
    assert rows(UserSession, user_id=target.pk) == before["links"]
    assert history_snapshot() == before["history"]
    assert AuditEvent.objects.count() == before["audit"]
    # Still signed in, still able to sign in, and the login ID is still taken.
    assert browser.get(calls_url).status_code == 200
    assert can_sign_in(LOGIN_ID, PASSWORD)
    with pytest.raises(ValidationError) as excinfo:
        create_user(
            actor=actor(admin_b),
            organization=admin_b.organization,
            login_id=LOGIN_ID,
            name="Taker",
            password=NEW_PASSWORD,
        )
    assert "login_id" in excinfo.value.error_dict
    # And the deletion succeeds once nothing fails.
    delete(target, admin_a)
    assert User.all_objects.get(pk=target.pk).is_deleted


def test_deleted_at_is_recent_and_the_tombstone_stays_out_of_every_list(org_a, admin_a, target):
    delete(target, admin_a)
    tombstone = User.all_objects.get(pk=target.pk)
    assert timezone.now() - tombstone.deleted_at < dt.timedelta(minutes=1)
    assert target.pk not in set(
        user_selectors.user_list(organization=org_a).values_list("pk", flat=True)
    )
    assert target.pk not in {u.pk for u in selectors.user_options(organization=org_a)}
