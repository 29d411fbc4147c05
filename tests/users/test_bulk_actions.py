"""Bulk actions on the User List (docs/rules.md, "Batches, undo and schedules"): the bulk bar,
one confirmation page from a dry run, and the apply of exactly the users it showed, in one
transaction as one batch."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Contract, Organization, User
from audit import services as audit_services
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor
from permissions import catalog
from permissions.models import ServiceGrant
from tests.analytics.factories import CallRecordFactory, by_user_days
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users import bulk

BULK = reverse("users:bulk")
APPLY = reverse("users:bulk_apply")
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def confirm(client: Client, action: str, users=(), **data):
    body = {"action": action, "scope": "selected", "ids": [u.pk for u in users], **data}
    return client.post(BULK, body)


def token_of(response) -> str:
    match = TOKEN.search(response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def apply(client: Client, response, mode: str = "all"):
    return client.post(APPLY, {"token": token_of(response), "mode": mode, "next": "/users/?q=x"})


def count(response, key: str) -> int:
    match = re.search(rf'data-count="{key}">([\d,]+)<', response.content.decode())
    assert match, key
    return int(match.group(1).replace(",", ""))


def state(users) -> list[tuple]:
    return [
        (u.is_active, u.deleted_at is not None, u.deactivate_at, u.version)
        for u in User.all_objects.filter(pk__in=[u.pk for u in users]).order_by("pk")
    ]


@pytest.fixture(autouse=True)
def english(admin_a):
    # The pages in English, for the assertions on their words (tests/test_translations.py
    # checks the Japanese).
    User.objects.filter(pk=admin_a.pk).update(locale="en")


@pytest.fixture
def members(org_a):
    return UserFactory.create_batch(3, organization=org_a)


# --- The list offers it ---------------------------------------------------------------------------


def test_the_list_has_a_checkbox_per_row_and_the_bulk_bar(admin_client_a, members):
    body = admin_client_a.get(reverse("users:list"), {"q": "User"}).content.decode()
    for user in members:
        assert f'name="ids" value="{user.pk}" form="bulk-form"' in body
    assert f'action="{BULK}"' in body
    # "All matching" carries the current filter, so it works without JavaScript.
    assert '<input type="hidden" name="filter-q" value="User">' in body
    assert 'name="scope" value="all"' in body


# --- The confirmation ---------------------------------------------------------------------------


def test_the_confirmation_shows_the_dry_run_and_changes_nothing(admin_client_a, members):
    before = state(members)

    response = confirm(admin_client_a, "deactivate", members)

    assert response.status_code == 200
    assert count(response, "selected") == 3
    assert count(response, "changing") == 3
    assert count(response, "refused") == 0
    assert state(members) == before
    assert not ChangeBatch.objects.exists()


def test_get_shows_nothing(admin_client_a, members):
    assert admin_client_a.get(BULK).status_code == 405
    assert admin_client_a.get(APPLY).status_code == 405


@pytest.mark.parametrize("url", [BULK, APPLY])
def test_a_member_gets_403_and_nothing_changes(member_client_a, members, url):
    before = state(members)
    response = member_client_a.post(url, {"action": "deactivate", "ids": [members[0].pk]})
    assert response.status_code == 403
    assert state(members) == before


def test_another_organizations_ids_answer_404_and_are_not_acted_on(
    admin_client_b, admin_client_a, members, org_b
):
    mine = UserFactory(organization=org_b)
    before = state([*members, mine])

    foreign = confirm(admin_client_b, "deactivate", members)
    mixed = confirm(admin_client_b, "deactivate", [mine, members[0]])
    missing = admin_client_b.post(BULK, {"action": "deactivate", "ids": ["999999999"]})

    assert foreign.status_code == mixed.status_code == missing.status_code == 404
    assert state([*members, mine]) == before


def test_a_confirmation_of_another_admin_or_organization_is_refused(
    admin_client_a, admin_client_b, org_a, members
):
    shown = confirm(admin_client_a, "deactivate", members)
    colleague = Client()
    colleague.force_login(AdminFactory(organization=org_a))
    before = state(members)

    for client in (admin_client_b, colleague):
        response = apply(client, shown)
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
    assert state(members) == before


def test_an_old_confirmation_is_refused(admin_client_a, members, monkeypatch):
    shown = confirm(admin_client_a, "deactivate", members)
    before = state(members)
    # (Signed in for longer than PIN_MAX_AGE, the session itself would have ended.)
    monkeypatch.setattr(bulk, "PIN_MAX_AGE", -1)
    response = apply(admin_client_a, shown)
    assert response.status_code == 400
    assert state(members) == before


def test_posting_without_a_csrf_token_is_refused(admin_a, members):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    before = state(members)
    response = confirm(client, "deactivate", members)
    assert response.status_code == 403
    assert client.post(APPLY, {"token": "x", "mode": "all"}).status_code == 403
    assert state(members) == before


@pytest.mark.parametrize(
    "data",
    [
        {"ids": ["1"]},  # no action
        {"action": "explode", "ids": ["1"]},
        {"action": "deactivate", "ids": ["abc"]},
        {"action": "deactivate", "ids": ["-4"]},
        {"action": "deactivate", "ids": [str(2**70)]},
        {"action": "deactivate"},  # nobody selected
        {"action": "grant", "ids": ["1"]},  # no service
        {"action": "grant", "service": "not_a_service", "ids": ["1"]},
        {"action": "schedule", "ids": ["1"]},  # no time
        {"action": "schedule", "deactivate_at": "tomorrow", "ids": ["1"]},
        {"action": "deactivate", "scope": "sideways", "ids": ["1"]},
        {"action": "deactivate", "ids": [str(n) for n in range(1, 1200)]},
    ],
)
def test_bad_input_is_a_translated_400_never_a_500(admin_client_a, members, data):
    before = state(members)
    response = admin_client_a.post(BULK, data, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert state(members) == before


@pytest.mark.parametrize("token", ["", "garbage", "x" * 100_000, "a:b:c"])
def test_a_bad_token_is_a_400(admin_client_a, members, token):
    response = admin_client_a.post(APPLY, {"token": token, "mode": "all"})
    assert response.status_code == 400


def test_a_service_outside_the_contract_is_refused_as_input(admin_client_a, org_a, members):
    Contract.objects.filter(organization=org_a).update(services=[catalog.PHONE])
    response = confirm(admin_client_a, "grant", members, service=catalog.FUNNEL)
    assert response.status_code == 400


def test_the_query_count_of_the_confirmation_does_not_grow_with_the_selection(
    admin_client_a, org_a, django_assert_max_num_queries
):
    few = UserFactory.create_batch(3, organization=org_a)
    many = UserFactory.create_batch(40, organization=org_a)
    for user in [*few, *many]:
        GrantFactory(user=user, service=catalog.PHONE)
    for action, extra in (
        ("deactivate", {}),
        ("grant", {"service": catalog.MONITORING}),
        ("delete", {}),
    ):
        with django_assert_max_num_queries(16) as small:
            assert confirm(admin_client_a, action, few, **extra).status_code == 200
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert confirm(admin_client_a, action, many, **extra).status_code == 200


# --- Apply: each action -------------------------------------------------------------------------


def batch_of(kind: str) -> ChangeBatch:
    return ChangeBatch.objects.get(kind=kind)


def test_deactivate(admin_client_a, members):
    response = apply(admin_client_a, confirm(admin_client_a, "deactivate", members))

    assert response.status_code == 302 and response["Location"] == "/users/?q=x"
    assert not User.objects.filter(pk__in=[u.pk for u in members], is_active=True).exists()
    batch = batch_of("deactivate")
    assert batch.size == 3
    assert set(batch.events.values_list("action", flat=True)) == {"user_deactivate"}
    assert set(batch.events.values_list("target_id", flat=True)) == {u.pk for u in members}


def test_activate(admin_client_a, org_a):
    users = UserFactory.create_batch(2, organization=org_a, is_active=False)
    response = apply(admin_client_a, confirm(admin_client_a, "activate", users))
    assert response.status_code == 302
    assert User.objects.filter(pk__in=[u.pk for u in users], is_active=True).count() == 2
    assert batch_of("activate").size == 2


def test_grant_a_service_with_a_level(admin_client_a, members):
    shown = confirm(admin_client_a, "grant", members, service="meeting_access=host")
    assert shown.status_code == 200
    response = apply(admin_client_a, shown)
    assert response.status_code == 302
    levels = ServiceGrant.objects.filter(service=catalog.MEETING_ACCESS).values_list(
        "level", flat=True
    )
    assert list(levels) == ["host"] * 3
    batch = batch_of("grant")
    assert (batch.detail, batch.size) == (catalog.MEETING_ACCESS, 3)


def test_grant_shows_the_seats_needed(admin_client_a, members):
    shown = confirm(admin_client_a, "grant", members, service=catalog.PHONE)
    body = shown.content.decode()
    assert "3 seats needed" in body
    apply(admin_client_a, shown)
    assert ServiceGrant.objects.filter(service=catalog.PHONE).count() == 3


def test_revoke_frees_seats(admin_client_a, members):
    for user in members:
        GrantFactory(user=user, service=catalog.PHONE)
    shown = confirm(admin_client_a, "revoke", members, service=catalog.PHONE)
    assert "3 seats freed" in shown.content.decode()
    response = apply(admin_client_a, shown)
    assert response.status_code == 302
    assert not ServiceGrant.objects.filter(service=catalog.PHONE).exists()
    assert batch_of("revoke").detail == catalog.PHONE


def test_delete_shows_the_summed_impact_and_deletes(admin_client_a, members):
    for user in members[:2]:
        CallRecordFactory.create_batch(2, user=user)
        by_user_days(user, 3)
        GrantFactory(user=user, service=catalog.PHONE)

    shown = confirm(admin_client_a, "delete", members)
    body = shown.content.decode()
    assert "4 call records remain" in body
    assert "6 By-user rows" in body
    assert "2 service permissions are removed" in body
    assert "3 seats freed" in body  # the users' seats

    response = apply(admin_client_a, shown)
    assert response.status_code == 302
    deleted = User.all_objects.filter(pk__in=[u.pk for u in members], deleted_at__isnull=False)
    assert deleted.count() == 3
    assert batch_of("delete").size == 3


def test_schedule_in_the_organizations_time_zone(admin_client_a, members):
    when = timezone.now().astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(days=2)
    local = when.strftime("%Y-%m-%dT%H:%M")
    # An admin whose own zone is elsewhere still means the organization's time.
    shown = confirm(admin_client_a, "schedule", members, deactivate_at=local)
    assert shown.status_code == 200
    response = apply(admin_client_a, shown)
    assert response.status_code == 302
    expected = datetime.strptime(local, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("Asia/Tokyo"))
    assert {u.deactivate_at for u in User.objects.filter(pk__in=[u.pk for u in members])} == {
        expected
    }
    assert User.objects.filter(pk__in=[u.pk for u in members], is_active=True).count() == 3
    assert batch_of("schedule").size == 3


def test_schedule_follows_the_organizations_own_time_zone(admin_client_a, org_a, members):
    Organization.objects.filter(pk=org_a.pk).update(time_zone="UTC")
    when = timezone.now().astimezone(ZoneInfo("UTC")) + timedelta(days=2)
    local = when.strftime("%Y-%m-%dT%H:%M")
    apply(admin_client_a, confirm(admin_client_a, "schedule", members, deactivate_at=local))
    expected = datetime.strptime(local, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("UTC"))
    assert {u.deactivate_at for u in User.objects.filter(pk__in=[u.pk for u in members])} == {
        expected
    }


def test_schedule_in_the_past_is_refused_with_the_reason(admin_client_a, members):
    shown = confirm(admin_client_a, "schedule", members, deactivate_at="2001-01-01T09:00")
    assert count(shown, "refused") == 3
    assert "must be in the future" in shown.content.decode()


# --- The pinned set -------------------------------------------------------------------------------


def test_all_matching_pins_the_users_the_confirmation_showed(admin_client_a, org_a):
    team = [UserFactory(organization=org_a, name=f"Team {i}") for i in range(3)]
    other = UserFactory(organization=org_a, name="Somebody Else")
    shown = admin_client_a.post(
        BULK,
        {"action": "deactivate", "scope": "all", "filter-q": "Team", "filter-status": "active"},
    )
    assert shown.status_code == 200
    assert count(shown, "selected") == 3
    # Between the confirmation and the apply, the filter comes to match other users.
    User.objects.filter(pk=other.pk).update(name="Team newcomer")
    User.objects.filter(pk=team[0].pk).update(name="Left the team")

    response = apply(admin_client_a, shown)

    assert response.status_code == 302
    assert set(User.objects.filter(is_active=False).values_list("pk", flat=True)) == {
        u.pk for u in team
    }
    assert User.objects.get(pk=other.pk).is_active


def test_all_matching_reads_the_lists_filters(admin_client_a, org_a, members):
    idle = UserFactory(organization=org_a, last_login=None)
    User.objects.filter(pk=idle.pk).update(created_at=timezone.now() - timedelta(days=100))
    shown = admin_client_a.post(BULK, {"action": "deactivate", "scope": "all", "filter-idle": "90"})
    assert count(shown, "selected") == 1
    apply(admin_client_a, shown)
    assert not User.objects.get(pk=idle.pk).is_active
    assert all(u.is_active for u in User.objects.filter(pk__in=[m.pk for m in members]))


def test_all_matching_is_capped_with_a_message(admin_client_a, members, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_SELECTION", 2)
    response = admin_client_a.post(BULK, {"action": "deactivate", "scope": "all"})
    assert response.status_code == 400
    assert "narrow the search" in response.content.decode()


def test_a_deletion_is_capped_per_request(admin_client_a, members, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_DELETE_IN_REQUEST", 2)
    response = confirm(admin_client_a, "delete", members)
    assert response.status_code == 400
    assert "Delete at most 2 users at once" in response.content.decode()
    assert confirm(admin_client_a, "deactivate", members).status_code == 200


def test_a_user_changed_since_the_confirmation_refuses_the_whole_apply(admin_client_a, members):
    shown = confirm(admin_client_a, "deactivate", members)
    User.objects.filter(pk=members[1].pk).update(name="Renamed", version=members[1].version + 1)

    again = apply(admin_client_a, shown)

    assert again.status_code == 400
    assert "Nothing was changed" in again.content.decode()
    assert User.objects.filter(pk__in=[u.pk for u in members], is_active=True).count() == 3
    # Confirmed again, on what is there now, it applies.
    assert apply(admin_client_a, again).status_code == 302
    assert User.objects.filter(pk__in=[u.pk for u in members], is_active=True).count() == 0


# --- All or nothing, or the others ------------------------------------------------------------


def test_a_refused_user_is_shown_with_the_reason(admin_client_a, admin_a, members):
    shown = confirm(admin_client_a, "deactivate", [admin_a, *members])
    assert count(shown, "refused") == 1
    assert count(shown, "changing") == 3
    assert "You cannot deactivate yourself." in shown.content.decode()


def test_all_or_nothing_with_a_refused_user_changes_nothing(admin_client_a, admin_a, members):
    shown = confirm(admin_client_a, "deactivate", [admin_a, *members])
    before = state([admin_a, *members])

    response = apply(admin_client_a, shown, mode="all")

    assert response.status_code == 400
    assert state([admin_a, *members]) == before
    assert not ChangeBatch.objects.exists()


def test_apply_to_the_others_leaves_out_the_refused(admin_client_a, admin_a, members):
    shown = confirm(admin_client_a, "deactivate", [admin_a, *members])

    response = apply(admin_client_a, shown, mode="others")

    assert response.status_code == 302
    assert User.objects.get(pk=admin_a.pk).is_active
    assert not User.objects.filter(pk__in=[u.pk for u in members], is_active=True).exists()
    assert batch_of("deactivate").size == 3


def test_seats_over_the_contract_refuse_the_last_takers(admin_client_a, org_a, members):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 2})
    holder = UserFactory(organization=org_a)
    GrantFactory(user=holder, service=catalog.PHONE)

    shown = confirm(admin_client_a, "grant", members, service=catalog.PHONE)
    assert count(shown, "refused") == 2
    assert apply(admin_client_a, shown, mode="all").status_code == 400
    assert ServiceGrant.objects.filter(service=catalog.PHONE).count() == 1

    assert apply(admin_client_a, shown, mode="others").status_code == 302
    assert ServiceGrant.objects.filter(service=catalog.PHONE).count() == 2


def test_an_admin_deactivating_all_admins_keeps_themself_and_the_organization_an_admin(
    org_a, admin_a
):
    other = AdminFactory(organization=org_a, locale="en")
    client = Client()
    client.force_login(other)
    shown = confirm(client, "deactivate", [admin_a, other])
    assert count(shown, "refused") == 1
    assert "You cannot deactivate yourself." in shown.content.decode()
    assert apply(client, shown, mode="others").status_code == 302
    assert list(User.objects.filter(role="admin", is_active=True)) == [other]


def test_the_batch_appears_in_the_audit_log(admin_client_a, members):
    apply(admin_client_a, confirm(admin_client_a, "deactivate", members))
    assert AuditEvent.objects.filter(batch__kind="deactivate").count() == 3


def test_a_large_batch_is_audited_record_by_record(org_a, admin_a, is_postgres):
    """Above audit.services.COPY_FROM records, PostgreSQL takes them by COPY: each record as
    an INSERT would have written it."""
    users = UserFactory.create_batch(audit_services.COPY_FROM + 20, organization=org_a)
    result = bulk.apply(
        organization=org_a,
        actor=Actor(user=admin_a, label=admin_a.login_id, ip_address="192.0.2.7"),
        pin=bulk.Pin(
            action=bulk.BulkAction(bulk.DEACTIVATE),
            pairs=[(u.pk, u.version) for u in users],
            refused=[],
        ),
        others=False,
    )
    assert result.committed
    events = AuditEvent.objects.filter(batch=result.batch).order_by("target_id")
    assert events.count() == len(users) == result.batch.size
    first = events.first()
    assert first.target_id == users[0].pk and first.target_label == users[0].login_id
    assert first.changes == {"is_active": [True, False]}
    assert (first.action, first.actor_id, first.organization_id) == (
        "user_deactivate",
        admin_a.pk,
        org_a.pk,
    )
    assert first.ip_address == "192.0.2.7" and first.channel == "console"
    assert first.target_version == users[0].version + 1
    assert abs((first.created_at - timezone.now()).total_seconds()) < 60


def test_a_batch_that_changes_nobody_is_not_recorded(admin_client_a, org_a):
    already = UserFactory.create_batch(2, organization=org_a, is_active=False)
    response = apply(admin_client_a, confirm(admin_client_a, "deactivate", already))
    assert response.status_code == 302
    assert not ChangeBatch.objects.exists()


def test_refused_users_beyond_the_first_ones_are_counted(admin_client_a, members, monkeypatch):
    monkeypatch.setattr(bulk, "REFUSED_SHOWN", 1)
    shown = confirm(admin_client_a, "schedule", members, deactivate_at="2001-01-01T09:00")
    body = shown.content.decode()
    assert count(shown, "refused") == 3
    assert body.count("must be in the future.</td>") == 1
    assert "… and 2 more." in body
