"""The Dashboard's period and where its figures come from: the period the page opens on is the
one its figures are for; the demo's By-user table and totals are added up from the same call
records; the page says which figure comes from what."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization, User
from analytics import selectors
from analytics.generate import generate_calls
from analytics.models import ByUserDaily, CallRecord
from tests.analytics.factories import CallRecordFactory, page
from tests.factories import AdminFactory, UserFactory

DASHBOARD_URL = reverse("analytics:dashboard")


@pytest.fixture(autouse=True)
def _admin_reads_english(admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)


def selected_period(response) -> str:
    return re.search(
        r'<select name="days"[^>]*>.*?<option value="(\d+)" selected>',
        response.content.decode(),
        re.S,
    ).group(1)


@pytest.fixture
def calls(member_a):
    """Calls 3, 20 and 60 days ago: 1 in 7 days, 2 in 30, 3 in 90."""
    now = timezone.now()
    for days in (3, 20, 60):
        CallRecordFactory(user=member_a, started_at=now - timedelta(days=days), duration_seconds=60)


@pytest.mark.parametrize(
    "params",
    [{}, {"user": ""}, {"days": "365"}, {"days": "x"}],
    ids=["no-filter", "user-only", "unknown-period", "bad-period"],
)
def test_the_period_selected_is_the_one_the_figures_are_for(admin_client_a, calls, params):
    response = admin_client_a.get(DASHBOARD_URL, params)

    assert response.status_code == 200
    assert selected_period(response) == "30"
    assert page(response).value("Calls") == "2"  # the 30-day figure


@pytest.mark.parametrize(("days", "expected"), [("7", "1"), ("30", "2"), ("90", "3"), ("0", "3")])
def test_a_chosen_period_is_selected_and_counted(admin_client_a, calls, days, expected):
    response = admin_client_a.get(DASHBOARD_URL, {"days": days})

    assert selected_period(response) == days
    assert page(response).value("Calls") == expected


def test_the_page_says_where_each_figure_comes_from(admin_client_a, calls):
    text = page(admin_client_a.get(DASHBOARD_URL)).text

    assert "count every call record of the period in Call History" in text
    assert "deleted users' calls included" in text
    assert "From the By-user rows" in text
    assert "added up from that user's call records" in text


@pytest.mark.django_db
@pytest.mark.parametrize("days", [7, 30, 90, 0])
def test_the_demos_by_user_table_adds_up_to_the_calls_of_each_period(days):
    call_command("seed_demo", "--users", "6", "--seed", "3", stdout=StringIO())
    organization = Organization.objects.get(slug="demo")
    since = selectors.period_start(days)
    since_day = timezone.localtime(since).date() if since else None

    totals = selectors.dashboard_totals(organization=organization, since=since)
    by_user = selectors.by_user_table(organization=organization, since_day=since_day)

    assert totals["calls"] > 0
    assert sum(row["calls"] for row in by_user) == totals["calls"]
    assert sum(row["talk"] for row in by_user) == totals["talk_seconds"]
    for row in by_user:
        calls = CallRecord.objects.filter(user_id=row["user_id"])
        if since is not None:
            calls = calls.filter(started_at__gte=since)
        assert row["calls"] == calls.count(), row["name"]


@pytest.mark.django_db
def test_the_demo_has_one_by_user_row_per_user_and_day_with_calls():
    call_command(
        "seed_demo",
        "--users",
        "3",
        "--seed",
        "5",
        "--calls",
        "40",
        "--days",
        "10",
        stdout=StringIO(),
    )
    organization = Organization.objects.get(slug="demo")
    calls = CallRecord.objects.filter(organization=organization)
    tz = timezone.get_default_timezone()
    days_with_calls = {(c.user_id, timezone.localtime(c.started_at, tz).date()) for c in calls}

    rows = ByUserDaily.objects.filter(organization=organization)
    assert {(r.user_id, r.day) for r in rows} == days_with_calls
    assert sum(r.call_count for r in rows) == calls.count() == 4 * 40
    assert min(r.day for r in rows) >= timezone.localdate() - timedelta(days=10)


def test_user_pickers_tell_users_of_the_same_name_apart(admin_client_a, org_a):
    UserFactory(organization=org_a, name="Sato Hanako", login_id="hanako.sales@a.example.com")
    UserFactory(
        organization=org_a,
        name="Sato Hanako",
        login_id="hanako.support@a.example.com",
        is_active=False,
    )
    AdminFactory(organization=org_a, name="Sato Hanako", login_id="hanako.admin@a.example.com")

    for url, field in (
        (reverse("analytics:calls"), "user"),
        (DASHBOARD_URL, "user"),
        (reverse("analytics:meetings"), "host"),
    ):
        options = [o for o in page(admin_client_a.get(url)).options(field) if "Sato" in o]
        # Same name: in the order they were added, each with its login ID.
        assert options == [
            "Sato Hanako (hanako.sales@a.example.com)",
            "Sato Hanako (hanako.support@a.example.com, deactivated)",
            "Sato Hanako (hanako.admin@a.example.com)",
        ], url


def test_counts_have_thousands_separators(admin_client_a, org_a, member_a):
    assert generate_calls(organization=org_a, user_ids=[member_a.pk], per_user=1204, days=20)

    calls = page(admin_client_a.get(reverse("analytics:calls")))
    dashboard = page(admin_client_a.get(DASHBOARD_URL))

    assert "1,204 calls" in calls.text
    assert dashboard.value("Calls") == "1,204"
