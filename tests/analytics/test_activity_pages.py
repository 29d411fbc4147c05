"""The read-only activity pages (/calls/, /dashboard/, /meetings/, /meetings/<id>/): who may see
them, tenant scoping, the user-name filters (the organization's users that are not deleted,
deactivated ones marked), bad filter values, and what a page costs in queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from analytics.models import Meeting
from audit.services import Actor
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    ByUserDailyFactory,
    CallRecordFactory,
    FunnelTeamMemberFactory,
    MeetingFactory,
    MeetingParticipantFactory,
    TableThemeFactory,
    by_user_days,
    normalised,
    page,
)
from tests.factories import UserFactory
from tests.services import user_delete

CALLS_URL = reverse("analytics:calls")
DASHBOARD_URL = reverse("analytics:dashboard")
MEETINGS_URL = reverse("analytics:meetings")
LIST_PAGES = [CALLS_URL, DASHBOARD_URL, MEETINGS_URL]


def meeting_url(meeting_or_id) -> str:
    return reverse("analytics:meeting", args=[getattr(meeting_or_id, "pk", meeting_or_id)])


@pytest.fixture(autouse=True)
def _admins_read_english(admin_a, admin_b):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk__in=[admin_a.pk, admin_b.pk]).update(locale=User.Locale.ENGLISH)
    admin_a.locale = admin_b.locale = User.Locale.ENGLISH


@pytest.fixture
def world(org_a, org_b, admin_a, member_a, admin_b):
    """Organization A: an admin, a member, a deactivated user and a deleted one, with calls,
    By-user rows and meetings; organization B: the same kind of data, never to be shown in A."""
    inactive = UserFactory(organization=org_a, name="Inactive Ito", is_active=False)
    gone = UserFactory(organization=org_a, name="Gone Goto")
    for user, n in ((member_a, 3), (inactive, 2), (gone, 1)):
        CallRecordFactory.create_batch(n, user=user, duration_seconds=60)
        by_user_days(user, n)
    meeting = MeetingFactory(host=member_a, uploader=inactive, title="A weekly review")
    MeetingParticipantFactory(meeting=meeting, user=member_a)
    MeetingParticipantFactory(meeting=meeting, user=inactive)
    MeetingParticipantFactory(meeting=meeting, user=gone)
    gone_hosted = MeetingFactory(host=gone, title="A kickoff")
    MeetingFactory(host=inactive, title="A onboarding", access=Meeting.Access.ALL)

    bob = UserFactory(organization=org_b, name="Bob Banno")
    CallRecordFactory.create_batch(4, user=bob, counterpart="09-9999-9999", duration_seconds=999)
    CallRecordFactory(user=admin_b, counterpart="09-9999-9999")
    by_user_days(bob, 4)
    b_meeting = MeetingFactory(host=admin_b, title="B secret meeting")
    MeetingParticipantFactory(meeting=b_meeting, user=bob)
    TableThemeFactory(creator=bob, name="B theme")
    BookmarkedFilterFactory(creator=bob, name="B bookmark")
    FunnelTeamMemberFactory(team__organization=org_b, team__name="B team", user=bob)

    user_delete(actor=Actor(user=admin_a, label="admin@a.example.com"), user=gone)
    return {
        "inactive": inactive,
        "gone": gone,
        "meeting": meeting,
        "gone_hosted": gone_hosted,
        "bob": bob,
        "b_meeting": b_meeting,
    }


def all_pages(world) -> list[str]:
    return [*LIST_PAGES, meeting_url(world["meeting"])]


PAGE_IDS = ["calls", "dashboard", "meetings", "meeting"]


def _url(world, index: int) -> str:
    return all_pages(world)[index]


# --- Access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "template", "heading"),
    [
        (0, "analytics/call_history.html", "Call History"),
        (1, "analytics/dashboard.html", "Dashboard"),
        (2, "analytics/meeting_list.html", "Meetings"),
        (3, "analytics/meeting_detail.html", "A weekly review"),
    ],
    ids=PAGE_IDS,
)
def test_admin_sees_the_page(admin_client_a, world, index, template, heading):
    response = admin_client_a.get(_url(world, index))

    assert response.status_code == 200
    assert template in [t.name for t in response.templates]
    assert f"<h1>{heading}</h1>" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_call_history_lists_the_organizations_calls(admin_client_a, member_a, world):
    shown = page(admin_client_a.get(CALLS_URL))
    rows = shown.table("Calls, newest first")
    assert sorted(row[1] for row in rows) == sorted(
        ["Member A"] * 3 + ["Inactive Ito"] * 2 + ["Gone Goto (Deleted)"]
    )
    assert "6 calls" in shown.text


def test_dashboard_shows_totals_by_user_rows_and_video_counts(admin_client_a, world):
    shown = page(admin_client_a.get(DASHBOARD_URL))
    assert shown.value("Calls") == "6"
    assert shown.value("Talk time") == "6:00"
    assert [row[:2] for row in shown.table("Calls by user")] == [
        ["Member A", "30"],
        ["Inactive Ito", "20"],
    ]
    assert sorted(shown.table("Meetings by host")) == [
        ["Gone Goto (Deleted)", "1"],
        ["Inactive Ito", "1"],
        ["Member A", "1"],
    ]
    assert shown.table("Meetings by uploader") == [["Inactive Ito", "1"]]
    assert "3 meetings in all." in shown.text


def test_meeting_pages_show_host_uploader_and_participants(admin_client_a, world):
    listed = page(admin_client_a.get(MEETINGS_URL))
    rows = {row[1]: row for row in listed.table("Meetings, newest first")}
    assert sorted(rows) == ["A kickoff", "A onboarding", "A weekly review"]
    assert rows["A weekly review"][2:5] == ["Member A", "Inactive Ito", "All users"]
    assert rows["A kickoff"][2] == "Gone Goto (Deleted)"
    detail = page(admin_client_a.get(meeting_url(world["meeting"])))
    assert detail.value("Host") == "Member A"
    assert detail.value("Uploader") == "Inactive Ito"
    assert detail.items_under("Participants") == [
        "Member A",
        "Inactive Ito",
        "Gone Goto (Deleted)",
    ]


@pytest.mark.parametrize("index", range(4), ids=PAGE_IDS)
def test_member_gets_403(member_client_a, world, index):
    response = member_client_a.get(_url(world, index))
    assert response.status_code == 403
    assert "A weekly review" not in response.content.decode()


@pytest.mark.parametrize("index", range(4), ids=PAGE_IDS)
def test_anonymous_is_sent_to_sign_in(client, world, index):
    url = _url(world, index)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("index", range(4), ids=PAGE_IDS)
def test_wrong_method_gets_405(admin_client_a, world, index, method):
    response = getattr(admin_client_a, method)(_url(world, index))
    assert response.status_code == 405
    assert response["Allow"] == "GET"


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize("url", LIST_PAGES, ids=["calls", "dashboard", "meetings"])
def test_pages_read_in_japanese_for_a_japanese_speaking_admin(admin_client_a, admin_a, world, url):
    """docs/rules.md: the whole UI renders in the signed-in user's locale (Japanese is the
    default). The heading and the column headers of the page must not be left in English."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.JAPANESE)

    response = admin_client_a.get(url)

    content = response.content.decode()
    assert '<html lang="ja">' in content
    heading = re.search(r"<h1>(.*?)</h1>", content, re.S).group(1)
    assert JAPANESE.search(heading), heading
    headers = page(response).tables[0]["rows"][0]
    untranslated = [h for h in headers if not JAPANESE.search(h)]
    assert untranslated == []


# --- Tenant scoping -------------------------------------------------------------------------------


def test_other_organizations_data_is_never_shown(admin_client_a, world):
    foreign = ["Bob Banno", "Admin B", "09-9999-9999", "B secret meeting", "B theme", "B bookmark"]
    foreign.append("B team")
    pages = [page(admin_client_a.get(url)) for url in all_pages(world)]
    for shown in pages:
        for text in foreign:
            assert text not in shown.text, text
    calls, dashboard, meetings, _detail = pages
    assert len(calls.table("Calls, newest first")) == 6
    assert dashboard.value("Calls") == "6"
    assert "3 meetings in all." in dashboard.text
    assert len(meetings.table("Meetings, newest first")) == 3
    # Filters naming org B's users select nothing of B's.
    for params in ({"user": world["bob"].pk}, {"host": world["bob"].pk}):
        for url in LIST_PAGES:
            assert "09-9999-9999" not in page(admin_client_a.get(url, params)).text


def test_other_organizations_admin_gets_the_same_404_for_a_meeting_as_for_a_missing_id(
    admin_client_b, world
):
    missing = Meeting.objects.order_by("-pk").first().pk + 1000
    theirs = admin_client_b.get(meeting_url(world["meeting"]))
    nowhere = admin_client_b.get(meeting_url(missing))

    assert theirs.status_code == nowhere.status_code == 404
    assert normalised(theirs) == normalised(nowhere)
    assert "A weekly review" not in theirs.content.decode()
    assert admin_client_b.get(meeting_url(world["b_meeting"])).status_code == 200


def test_other_organizations_admin_does_not_see_org_a_in_lists(admin_client_b, world):
    for url in LIST_PAGES:
        shown = page(admin_client_b.get(url))
        for text in ("Member A", "Inactive Ito", "Gone Goto", "A weekly review"):
            assert text not in shown.text, (url, text)


# --- User filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (CALLS_URL, "user"),
        (DASHBOARD_URL, "user"),
        (MEETINGS_URL, "host"),
        (MEETINGS_URL, "participant"),
    ],
)
def test_user_filters_offer_the_organizations_users_that_are_not_deleted(
    admin_client_a, admin_a, member_a, world, url, field
):
    shown = page(admin_client_a.get(url))

    # By name, each with its login ID (two users of the same name are told apart).
    assert shown.options(field) == [
        "Admin A (admin@a.example.com)",
        f"Inactive Ito ({world['inactive'].login_id}, deactivated)",
        "Member A (member@a.example.com)",
    ]
    assert sorted(shown.option_values(field), key=int) == sorted(
        str(u.pk) for u in (admin_a, member_a, world["inactive"])
    )
    assert str(world["gone"].pk) not in shown.option_values(field)


def test_filtering_by_a_user_shows_only_their_activity(admin_client_a, member_a, world):
    inactive = world["inactive"]
    calls = page(admin_client_a.get(CALLS_URL, {"user": inactive.pk}))
    assert [row[1] for row in calls.table("Calls, newest first")] == ["Inactive Ito"] * 2
    board = page(admin_client_a.get(DASHBOARD_URL, {"user": member_a.pk}))
    assert board.value("Calls") == "3"
    assert [row[0] for row in board.table("Calls by user")] == ["Member A"]
    hosted = page(admin_client_a.get(MEETINGS_URL, {"host": inactive.pk}))
    assert hosted.column("Meetings, newest first", 1) == ["A onboarding"]
    joined = page(admin_client_a.get(MEETINGS_URL, {"participant": inactive.pk}))
    assert joined.column("Meetings, newest first", 1) == ["A weekly review"]


BAD_VALUES = [
    {"user": "abc"},
    {"user": "-1"},
    {"user": "1.5"},
    {"user": "99999999999999999999999"},
    {"user": "0x10"},
    {"user": "1\x00"},
    {"user": ["abc", "-2"]},
    {"days": "abc"},
    {"days": "5"},
    {"days": "-30"},
    {"page": "0"},
    {"page": "-3"},
    {"page": "abc"},
    {"page": "99999999999"},
    {"host": "abc"},
    {"host": "99999999999999999999999"},
    {"participant": "x"},
    {"participant": "-5"},
]


@pytest.mark.parametrize("url", LIST_PAGES, ids=["calls", "dashboard", "meetings"])
@pytest.mark.parametrize("params", BAD_VALUES, ids=lambda p: repr(p))
def test_bad_filter_values_are_ignored(admin_client_a, world, url, params):
    plain = page(admin_client_a.get(url))

    response = admin_client_a.get(url, params)

    assert response.status_code == 200
    shown = page(response)
    assert [t["rows"] for t in shown.tables] == [t["rows"] for t in plain.tables]


@pytest.mark.parametrize("field", ["user", "host", "participant"])
def test_filters_naming_a_deleted_or_foreign_user_are_ignored(admin_client_a, world, field):
    for url in LIST_PAGES:
        plain = page(admin_client_a.get(url))
        for who in (world["gone"], world["bob"]):
            shown = page(admin_client_a.get(url, {field: who.pk}))
            assert [t["rows"] for t in shown.tables] == [t["rows"] for t in plain.tables]


# --- Cost -----------------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", [CALLS_URL, DASHBOARD_URL, MEETINGS_URL])
def test_query_count_does_not_grow_with_the_number_of_rows(admin_client_a, org_a, member_a, url):
    users = [member_a, *UserFactory.create_batch(9, organization=org_a)]
    for user in users:
        CallRecordFactory(user=user)
        ByUserDailyFactory(user=user)
        MeetingFactory(host=user, uploader=user)
    TableThemeFactory(creator=member_a)
    BookmarkedFilterFactory(creator=member_a)
    FunnelTeamMemberFactory(team__organization=org_a, user=member_a)
    few = _queries(admin_client_a, url)

    for user in users:
        CallRecordFactory.create_batch(19, user=user)
        by_user_days(user, 19, start=1)
        for _ in range(5):
            MeetingParticipantFactory(
                meeting=MeetingFactory(host=user, uploader=users[0]), user=user
            )
        TableThemeFactory(creator=user)
        BookmarkedFilterFactory(creator=user)
        FunnelTeamMemberFactory(team__organization=org_a, user=user)
    many = _queries(admin_client_a, url)

    assert many == few
