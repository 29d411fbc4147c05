"""Scheduled deactivation (docs/rules.md): set on the edit page and by update_user
--deactivate-at in the organization's time zone, shown on the list and the user page,
cancellable, and run by the worker through the change service at that time."""

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Organization, User
from audit.models import AuditEvent
from tests.factories import UserFactory
from users.changes import run_due_deactivations

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)  # 21:00 in Tokyo


@pytest.fixture(autouse=True)
def clock():
    """Now is NOW, from before the admin signs in (a session's timeouts count from then)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def english(clock, admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale="en", time_zone="UTC")


@pytest.fixture
def target(org_a):
    return UserFactory(organization=org_a, login_id="temp@a.example.com", name="Temp Staff")


def edit_data(user, **overrides) -> dict:
    data = {
        "login_id": user.login_id,
        "name": user.name,
        "locale": user.locale,
        "time_zone": user.time_zone,
        "role": user.role,
        "extension": user.extension,
        "is_active": "on",
        "version": user.version,
    }
    data.update(overrides)
    return data


def test_the_edit_page_schedules_in_the_organizations_time_zone(admin_client_a, target):
    # 00:30 on 3 December in Tokyo is 15:30 on 2 December in UTC: across the day boundary.
    response = admin_client_a.post(
        reverse("users:edit", args=[target.pk]),
        edit_data(target, deactivate_at="2026-12-03T00:30"),
    )
    assert response.status_code == 302, response.context["form"].errors
    target.refresh_from_db()
    assert target.deactivate_at == dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)
    form = admin_client_a.get(reverse("users:edit", args=[target.pk])).context["form"]
    assert form.initial["deactivate_at"] == "2026-12-03T00:30"


def test_the_worker_deactivates_at_the_time_not_before(target):
    User.objects.filter(pk=target.pk).update(
        deactivate_at=dt.datetime(2026, 12, 3, 0, 30, tzinfo=TOKYO)
    )
    assert run_due_deactivations(now=dt.datetime(2026, 12, 2, 15, 29, tzinfo=dt.UTC)) == 0
    assert User.objects.get(pk=target.pk).is_active
    assert run_due_deactivations(now=dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)) == 1
    target.refresh_from_db()
    assert not target.is_active and target.deactivate_at is None
    event = AuditEvent.objects.get(target=target, action=AuditEvent.Action.USER_DEACTIVATE)
    assert event.channel == AuditEvent.Channel.SCHEDULE and event.batch is not None


def test_another_organization_time_zone_is_honoured(admin_client_a, org_a, target):
    Organization.objects.filter(pk=org_a.pk).update(time_zone="UTC")
    admin_client_a.post(
        reverse("users:edit", args=[target.pk]),
        edit_data(target, deactivate_at="2026-12-03T00:30"),
    )
    target.refresh_from_db()
    assert target.deactivate_at == dt.datetime(2026, 12, 3, 0, 30, tzinfo=dt.UTC)


def test_a_time_in_the_past_is_refused_on_the_field(admin_client_a, target):
    response = admin_client_a.post(
        reverse("users:edit", args=[target.pk]),
        edit_data(target, deactivate_at="2026-12-02T20:59"),  # a minute before now, in Tokyo
    )
    assert response.status_code == 200
    assert response.context["form"].errors["deactivate_at"] == [
        "The deactivation time must be in the future."
    ]
    target.refresh_from_db()
    assert target.deactivate_at is None


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T10:00", "2026-12-03", "x" * 5000])
def test_a_malformed_time_is_a_field_error_not_a_500(admin_client_a, target, text):
    response = admin_client_a.post(
        reverse("users:edit", args=[target.pk]), edit_data(target, deactivate_at=text)
    )
    assert response.status_code == 200
    assert "YYYY-MM-DD HH:MM" in response.context["form"].errors["deactivate_at"][0]


def test_clearing_the_field_cancels_and_saving_unchanged_keeps_it(admin_client_a, target):
    when = dt.datetime(2026, 12, 5, 9, 0, 30, tzinfo=TOKYO)  # seconds: set by a command
    User.objects.filter(pk=target.pk).update(deactivate_at=when)
    target.refresh_from_db()
    url = reverse("users:edit", args=[target.pk])
    admin_client_a.post(url, edit_data(target, name="Renamed", deactivate_at="2026-12-05T09:00"))
    target.refresh_from_db()
    assert target.name == "Renamed" and target.deactivate_at == when
    admin_client_a.post(url, edit_data(target, deactivate_at=""))
    target.refresh_from_db()
    assert target.deactivate_at is None


def test_you_cannot_schedule_your_own_deactivation(admin_client_a, admin_a):
    response = admin_client_a.post(
        reverse("users:edit", args=[admin_a.pk]),
        edit_data(admin_a, deactivate_at="2099-01-01T00:00", role="admin"),
    )
    assert response.status_code == 302
    admin_a.refresh_from_db()
    assert admin_a.deactivate_at is None


def test_the_list_shows_the_schedule(admin_client_a, target):
    User.objects.filter(pk=target.pk).update(
        deactivate_at=dt.datetime(2026, 12, 3, 0, 30, tzinfo=TOKYO)
    )
    text = admin_client_a.get(reverse("users:list")).content.decode()
    # The admin reads times in their own zone (UTC here).
    assert "Deactivates 2 Dec 2026, 15:30" in text


def test_update_user_schedules_and_cancels(org_a, target):
    out = StringIO()
    call_command(
        "update_user",
        organization=org_a.slug,
        login_id=target.login_id,
        deactivate_at="2026-12-03 00:30",
        stdout=out,
    )
    target.refresh_from_db()
    assert target.deactivate_at == dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)
    call_command(
        "update_user",
        organization=org_a.slug,
        login_id=target.login_id,
        deactivate_at="2026-12-03T09:00+09:00",
        stdout=out,
    )
    target.refresh_from_db()
    assert target.deactivate_at == dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.UTC)
    call_command(
        "update_user",
        organization=org_a.slug,
        login_id=target.login_id,
        deactivate_at="none",
        stdout=out,
    )
    target.refresh_from_db()
    assert target.deactivate_at is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("soon", "is not a date and time"),
        ("2026-12-03", "is not a date and time"),
        ("2026-12-01 10:00", "must be in the future"),
    ],
)
def test_update_user_refuses_a_bad_time_and_changes_nothing(org_a, target, text, error):
    with pytest.raises(CommandError, match=error):
        call_command(
            "update_user",
            organization=org_a.slug,
            login_id=target.login_id,
            deactivate_at=text,
        )
    target.refresh_from_db()
    assert target.deactivate_at is None


def test_the_cron_command_runs_the_due_deactivations(org_a, target):
    User.objects.filter(pk=target.pk).update(deactivate_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    out = StringIO()
    call_command("deactivate_due_users", stdout=out)
    assert out.getvalue().strip() == "Deactivated 1 user."
    assert not User.objects.get(pk=target.pk).is_active
