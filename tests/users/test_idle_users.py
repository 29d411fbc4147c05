"""The idle filter (docs/rules.md): no sign-in for 30 / 60 / 90 days (a user who never signed
in counts from the day they were added), or never signed in; on the User List, its export and
its bulk actions alike."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Contract, User
from permissions import catalog
from tests.factories import GrantFactory, UserFactory
from users import selectors


@pytest.fixture
def people(org_a, admin_a):
    now = timezone.now()
    made = {
        "today": UserFactory(organization=org_a, name="Today", last_login=now),
        "day29": UserFactory(organization=org_a, name="Day29", last_login=now - timedelta(days=29)),
        "day31": UserFactory(organization=org_a, name="Day31", last_login=now - timedelta(days=31)),
        "day61": UserFactory(organization=org_a, name="Day61", last_login=now - timedelta(days=61)),
        "new_never": UserFactory(organization=org_a, name="NewNever", last_login=None),
        "old_never": UserFactory(organization=org_a, name="OldNever", last_login=None),
    }
    User.objects.filter(pk=made["old_never"].pk).update(created_at=now - timedelta(days=100))
    User.objects.filter(pk=admin_a.pk).update(last_login=now)
    return made


def names(qs) -> set[str]:
    return set(qs.values_list("name", flat=True))


@pytest.mark.parametrize(
    ("idle", "expected"),
    [
        ("30", {"Day31", "Day61", "OldNever"}),
        ("60", {"Day61", "OldNever"}),
        ("90", {"OldNever"}),
        ("never", {"NewNever", "OldNever"}),
        ("", {"Admin A", "Today", "Day29", "Day31", "Day61", "NewNever", "OldNever"}),
        ("7", {"Admin A", "Today", "Day29", "Day31", "Day61", "NewNever", "OldNever"}),
    ],
)
def test_idle_users_at_each_boundary(org_a, people, idle, expected):
    assert names(selectors.user_list(organization=org_a, idle=idle)) == expected


def test_the_user_list_and_its_export_filter_idle_users_alike(admin_client_a, org_a, people):
    page = admin_client_a.get(reverse("users:list"), {"idle": "60"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Day61" in html and "OldNever" in html and "Day31" not in html

    response = admin_client_a.post(reverse("exports:export"), {"encoding": "utf-8", "idle": "60"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row[1] for row in rows[1:]} == {"Day61", "OldNever"}


def test_an_unknown_idle_value_is_ignored(admin_client_a, people):
    assert admin_client_a.get(reverse("users:list"), {"idle": "forever"}).status_code == 200


def test_the_idle_filter_shows_the_seats_the_idle_users_hold(admin_client_a, org_a, people):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 10})
    GrantFactory(user=people["day61"], service=catalog.PHONE)
    GrantFactory(user=people["today"], service=catalog.PHONE)  # not idle: not counted
    response = admin_client_a.get(reverse("users:list") + "?idle=60")
    # Idle for 60 days: Day61 and OldNever (added 100 days ago, never signed in).
    assert response.context["idle_seats"] == [(catalog.get(catalog.PHONE).label, 1)]
    assert response.context["page"].total == 2
    unfiltered = admin_client_a.get(reverse("users:list"))
    assert unfiltered.context["idle_seats"] is None
