"""The published help page, line by line: "What will happen after you delete a user?"
(the published help page, made exact in docs/rules.md).

One test per line of "What is Affected", "What is Not Affected" and the IMPORTANT note. Each test
sets the line's situation up, checks what an admin sees before the deletion, deletes the user the
way an admin does (POST to /users/<id>/delete/), and checks what the admin sees afterwards: in the
rendered pages (/dashboard/, /calls/, /meetings/, /meetings/<id>/) and through analytics.selectors.

Wherever a deleted user's name still shows, it reads "<name> (Deleted)" for an English-speaking
admin and "<name>（削除済み）" for a Japanese-speaking one (User.locale sets the page
language), so the tests about names that remain run in both languages.
"""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from analytics import selectors
from analytics.models import (
    BookmarkedFilter,
    ByUserDaily,
    CallRecord,
    FunnelTeamMember,
    Meeting,
    MeetingParticipant,
    TableTheme,
)
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    CallRecordFactory,
    FunnelTeamFactory,
    FunnelTeamMemberFactory,
    MeetingFactory,
    MeetingParticipantFactory,
    TableThemeFactory,
    by_user_days,
    deleted_label,
    page,
)
from tests.factories import AdminFactory, UserFactory

NAME = "Kato Hana"
LOCALES = ["en", "ja"]

CALLS_URL = reverse("analytics:calls")
DASHBOARD_URL = reverse("analytics:dashboard")
MEETINGS_URL = reverse("analytics:meetings")


def meeting_url(meeting) -> str:
    return reverse("analytics:meeting", args=[meeting.pk])


def tr(locale: str, message: str) -> str:
    """`message` as the page renders it for a viewer speaking `locale`."""
    with translation.override(locale):
        return translation.gettext(message)


def set_locale(user: User, locale: str) -> None:
    User.objects.filter(pk=user.pk).update(locale=locale)
    user.locale = locale


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """The default viewer reads English; tests about names that remain also run in Japanese."""
    set_locale(admin_a, User.Locale.ENGLISH)


@pytest.fixture
def target(org_a, admin_a):
    """The user to delete: an admin (so their own console session can show what they could see
    before), with a second active admin (admin_a) left, so the last-admin guard does not apply."""
    return AdminFactory(
        organization=org_a, login_id="kato@a.example.com", name=NAME, locale=User.Locale.ENGLISH
    )


@pytest.fixture
def target_client(target) -> Client:
    client = Client()
    client.force_login(target)
    return client


def delete(client: Client, user: User) -> User:
    """Delete `user` as the signed-in admin does, through the confirmation screen's POST."""
    response = client.post(reverse("users:delete", args=[user.pk]))
    assert response.status_code == 302, response.status_code
    tombstone = User.all_objects.get(pk=user.pk)
    assert tombstone.is_deleted
    return tombstone


def live_users(organization) -> list[User]:
    return list(User.objects.filter(organization=organization))


# --- What is Affected -----------------------------------------------------------------------------


def test_deleted_user_no_longer_appears_in_dashboard_user_name_filter(
    admin_client_a, admin_a, member_a, target, org_a
):
    CallRecordFactory.create_batch(3, user=target)
    CallRecordFactory.create_batch(2, user=member_a)
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert any(NAME in label for label in before.options("user"))
    assert str(target.pk) in before.option_values("user")

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    assert after.options("user") == [
        "Admin A (admin@a.example.com)",
        "Member A (member@a.example.com)",
    ]
    assert not [label for label in after.options("user") if NAME in label]
    assert str(target.pk) not in after.option_values("user")
    assert target.pk not in {u.pk for u in selectors.user_options(organization=org_a)}
    # A bookmarked or typed URL naming the deleted user is ignored: the whole organization shows.
    filtered = page(admin_client_a.get(DASHBOARD_URL, {"user": target.pk}))
    assert filtered.value(tr("en", "Calls")) == "5"


def test_deleted_user_no_longer_appears_by_user_on_dashboard_table(
    admin_client_a, member_a, target, org_a
):
    by_user_days(target, 3, call_count=10)
    by_user_days(member_a, 2, call_count=7)
    title = tr("en", "Calls by user")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert [row[:2] for row in before.table(title)] == [[NAME, "30"], ["Member A", "14"]]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    assert [row[:2] for row in after.table(title)] == [["Member A", "14"]]
    assert NAME not in " ".join(" ".join(row) for row in after.table(title))
    all_time = page(admin_client_a.get(DASHBOARD_URL, {"days": 0}))
    assert [row[0] for row in all_time.table(title)] == ["Member A"]
    rows = selectors.by_user_table(organization=org_a, since_day=None)
    assert [r["user_id"] for r in rows] == [member_a.pk]


def test_deleted_user_no_longer_appears_in_funnel_team_members(
    admin_client_a, member_a, target, org_a
):
    shared = FunnelTeamFactory(organization=org_a, name="Inside Sales")
    alone = FunnelTeamFactory(organization=org_a, name="Enterprise")
    FunnelTeamMemberFactory(team=shared, user=target)
    FunnelTeamMemberFactory(team=shared, user=member_a)
    FunnelTeamMemberFactory(team=alone, user=target)
    title = tr("en", "Funnel (beta) teams")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert before.table(title) == [["Enterprise", NAME], ["Inside Sales", f"{NAME}, Member A"]]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    # The teams stay; the deleted user is no longer among their members.
    assert after.table(title) == [["Enterprise", "—"], ["Inside Sales", "Member A"]]
    teams = selectors.funnel_teams(organization=org_a)
    assert [(t.name, [u.pk for u in members]) for t, members in teams] == [
        ("Enterprise", []),
        ("Inside Sales", [member_a.pk]),
    ]
    assert not FunnelTeamMember.objects.filter(user_id=target.pk).exists()


def test_table_themes_created_by_deleted_user_can_no_longer_be_deleted(
    admin_client_a, admin_a, member_a, target, org_a
):
    theirs = TableThemeFactory(creator=target, name="Call quality")
    others = TableThemeFactory(creator=member_a, name="Weekly KPIs")
    title = tr("en", "Table themes")
    yes, no = tr("en", "Yes, by its creator"), tr("en", "No (its creator was deleted)")
    assert theirs.can_be_deleted_by(target)
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert [[r[0], r[2]] for r in before.table(title)] == [
        ["Call quality", yes],
        ["Weekly KPIs", yes],
    ]

    tombstone = delete(admin_client_a, target)

    theirs = TableTheme.objects.select_related("creator").get(pk=theirs.pk)
    assert not theirs.deletable
    for anyone in [*live_users(org_a), tombstone]:
        assert not theirs.can_be_deleted_by(anyone), anyone
    others = TableTheme.objects.select_related("creator").get(pk=others.pk)
    assert others.deletable
    assert others.can_be_deleted_by(member_a)
    after = page(admin_client_a.get(DASHBOARD_URL))
    assert [[r[0], r[2]] for r in after.table(title)] == [
        ["Call quality", no],
        ["Weekly KPIs", yes],
    ]


def test_deleted_user_not_in_call_history_and_video_analytics_user_name_options(
    admin_client_a, member_a, target
):
    CallRecordFactory.create_batch(3, user=target)
    CallRecordFactory.create_batch(2, user=member_a)
    MeetingFactory(host=target, title="Hosted by Kato")
    MeetingFactory(host=member_a, title="Hosted by Member")
    assert any(NAME in label for label in page(admin_client_a.get(CALLS_URL)).options("user"))
    assert any(NAME in label for label in page(admin_client_a.get(MEETINGS_URL)).options("host"))

    delete(admin_client_a, target)

    calls = page(admin_client_a.get(CALLS_URL))
    meetings = page(admin_client_a.get(MEETINGS_URL))
    assert calls.options("user") == [
        "Admin A (admin@a.example.com)",
        "Member A (member@a.example.com)",
    ]
    assert meetings.options("host") == [
        "Admin A (admin@a.example.com)",
        "Member A (member@a.example.com)",
    ]
    assert str(target.pk) not in calls.option_values("user")
    assert str(target.pk) not in meetings.option_values("host")
    # The deleted user's id in the URL selects nothing: the filter is ignored, not applied.
    by_them = page(admin_client_a.get(CALLS_URL, {"user": target.pk}))
    assert len(by_them.table(tr("en", "Calls, newest first"))) == 5
    hosted = page(admin_client_a.get(MEETINGS_URL, {"host": target.pk}))
    assert sorted(hosted.column(tr("en", "Meetings, newest first"), 1)) == [
        "Hosted by Kato",
        "Hosted by Member",
    ]


def test_deleted_user_not_in_full_text_search_participant_options(admin_client_a, member_a, target):
    meeting = MeetingFactory(host=member_a, title="Weekly review")
    MeetingParticipantFactory(meeting=meeting, user=target)
    MeetingParticipantFactory(meeting=meeting, user=member_a)
    assert any(
        NAME in label for label in page(admin_client_a.get(MEETINGS_URL)).options("participant")
    )

    delete(admin_client_a, target)

    after = page(admin_client_a.get(MEETINGS_URL))
    assert after.options("participant") == [
        "Admin A (admin@a.example.com)",
        "Member A (member@a.example.com)",
    ]
    assert str(target.pk) not in after.option_values("participant")
    ignored = page(admin_client_a.get(MEETINGS_URL, {"participant": target.pk}))
    assert ignored.column(tr("en", "Meetings, newest first"), 1) == ["Weekly review"]


def _host_only_meeting_becomes_inaccessible(
    admin_client_a, admin_a, target, target_client, org_a, *, uploaded_by_them: bool
):
    meeting = MeetingFactory(
        host=target,
        uploader=target if uploaded_by_them else None,
        access=Meeting.Access.HOST,
        title="Host-only review",
    )
    own = MeetingFactory(host=admin_a, access=Meeting.Access.HOST, title="Admin A's own")
    # Before: the host sees it; nobody else does (Host only).
    assert target_client.get(meeting_url(meeting)).status_code == 200
    assert "Host-only review" in page(target_client.get(MEETINGS_URL)).column(
        tr("en", "Meetings, newest first"), 1
    )
    assert admin_client_a.get(meeting_url(meeting)).status_code == 404

    delete(admin_client_a, target)

    # After: no one can open it, the deleted host's old session included.
    for viewer in live_users(org_a):
        visible = selectors.visible_meetings(viewer=viewer)
        assert not visible.filter(pk=meeting.pk).exists(), viewer
    assert admin_client_a.get(meeting_url(meeting)).status_code == 404
    titles = page(admin_client_a.get(MEETINGS_URL)).column(tr("en", "Meetings, newest first"), 1)
    assert titles == ["Admin A's own"]
    response = target_client.get(meeting_url(meeting))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    # It is not accessible, but it is kept (and still counted in the Video Dashboard).
    assert Meeting.objects.filter(pk=meeting.pk, host_id=target.pk).exists()
    assert admin_client_a.get(meeting_url(own)).status_code == 200


def test_host_only_meetings_hosted_by_deleted_user_no_longer_accessible(
    admin_client_a, admin_a, target, target_client, org_a
):
    _host_only_meeting_becomes_inaccessible(
        admin_client_a, admin_a, target, target_client, org_a, uploaded_by_them=False
    )


def test_host_only_meetings_hosted_and_uploaded_by_deleted_user_no_longer_accessible(
    admin_client_a, admin_a, target, target_client, org_a
):
    _host_only_meeting_becomes_inaccessible(
        admin_client_a, admin_a, target, target_client, org_a, uploaded_by_them=True
    )


# --- What is Not Affected -------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_deleted_users_histories_remain_in_call_history(
    admin_client_a, admin_a, member_a, target, locale
):
    set_locale(admin_a, locale)
    theirs = [CallRecordFactory(user=target, counterpart=f"03-1111-000{i}") for i in range(3)]
    CallRecordFactory.create_batch(2, user=member_a)
    snapshot = list(CallRecord.objects.order_by("pk").values())
    title = tr(locale, "Calls, newest first")
    before = page(admin_client_a.get(CALLS_URL))
    assert sorted(before.column(title, 1)) == sorted([NAME] * 3 + ["Member A"] * 2)

    delete(admin_client_a, target)

    after = page(admin_client_a.get(CALLS_URL))
    rows = after.table(title)
    assert len(rows) == 5
    shown = {row[3]: row[1] for row in rows}  # counterpart -> user name
    for call in theirs:
        assert shown[call.counterpart] == deleted_label(NAME, locale)
    assert sorted(shown.values()) == sorted([deleted_label(NAME, locale)] * 3 + ["Member A"] * 2)
    other_label = deleted_label(NAME, "en" if locale == "ja" else "ja")
    assert other_label not in after.text
    assert list(CallRecord.objects.order_by("pk").values()) == snapshot
    assert {
        c.pk
        for c in selectors.call_list(organization=target.organization)
        if c.user_id == target.pk
    } == {c.pk for c in theirs}


def test_deleted_users_calls_remain_in_dashboard_totals(admin_client_a, member_a, target, org_a):
    CallRecordFactory.create_batch(3, user=target, duration_seconds=100)
    CallRecordFactory.create_batch(2, user=member_a, duration_seconds=50)
    calls, talk = tr("en", "Calls"), tr("en", "Talk time")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert (before.value(calls), before.value(talk)) == ("5", "6:40")

    delete(admin_client_a, target)

    for params in ({}, {"days": 0}, {"days": 7}):
        after = page(admin_client_a.get(DASHBOARD_URL, params))
        assert (after.value(calls), after.value(talk)) == ("5", "6:40"), params
    totals = selectors.dashboard_totals(organization=org_a, since=None)
    assert totals == {"calls": 5, "talk_seconds": 400}


@pytest.mark.parametrize("locale", LOCALES)
def test_bookmarks_created_by_deleted_user_remain(
    admin_client_a, admin_a, member_a, target, locale
):
    set_locale(admin_a, locale)
    theirs = BookmarkedFilterFactory(
        creator=target, name="Long inbound calls", conditions={"direction": "in", "min": 600}
    )
    BookmarkedFilterFactory(creator=member_a, name="Missed inbound")
    title = tr(locale, "Bookmarked filter conditions")
    before = page(admin_client_a.get(CALLS_URL))
    assert before.table(title) == [["Long inbound calls", NAME], ["Missed inbound", "Member A"]]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(CALLS_URL))
    assert after.table(title) == [
        ["Long inbound calls", deleted_label(NAME, locale)],
        ["Missed inbound", "Member A"],
    ]
    kept = BookmarkedFilter.objects.get(pk=theirs.pk)
    assert (kept.creator_id, kept.name, kept.conditions) == (
        target.pk,
        "Long inbound calls",
        {"direction": "in", "min": 600},
    )
    listed = [b.pk for b in selectors.bookmarks(organization=target.organization)]
    assert theirs.pk in listed


@pytest.mark.parametrize("locale", LOCALES)
def test_table_themes_created_by_deleted_user_remain(
    admin_client_a, admin_a, member_a, target, locale
):
    set_locale(admin_a, locale)
    theirs = TableThemeFactory(creator=target, name="Call quality", columns=["score", "calls"])
    TableThemeFactory(creator=member_a, name="Weekly KPIs")
    title = tr(locale, "Table themes")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert [r[:2] for r in before.table(title)] == [
        ["Call quality", NAME],
        ["Weekly KPIs", "Member A"],
    ]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    assert [r[:2] for r in after.table(title)] == [
        ["Call quality", deleted_label(NAME, locale)],
        ["Weekly KPIs", "Member A"],
    ]
    kept = TableTheme.objects.get(pk=theirs.pk)
    assert (kept.creator_id, kept.name, kept.columns) == (
        target.pk,
        "Call quality",
        ["score", "calls"],
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_deleted_users_name_remains_in_meeting_participant_list(
    admin_client_a, admin_a, member_a, target, locale
):
    set_locale(admin_a, locale)
    meeting = MeetingFactory(host=member_a, title="Weekly review")
    MeetingParticipantFactory(meeting=meeting, user=target)
    MeetingParticipantFactory(meeting=meeting, user=member_a)
    MeetingParticipantFactory(meeting=meeting, user=None, guest_name="Guest Sato")
    heading = tr(locale, "Participants")
    before = page(admin_client_a.get(meeting_url(meeting)))
    assert before.items_under(heading) == [NAME, "Member A", "Guest Sato"]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(meeting_url(meeting)))
    assert after.items_under(heading) == [deleted_label(NAME, locale), "Member A", "Guest Sato"]
    assert MeetingParticipant.objects.filter(meeting=meeting, user_id=target.pk).count() == 1
    with translation.override(locale):
        names = [p.display_name for p in selectors.meeting_participants(meeting=meeting)]
    assert names == [deleted_label(NAME, locale), "Member A", "Guest Sato"]


@pytest.mark.parametrize("locale", LOCALES)
def test_meetings_of_deleted_user_remain_in_video_analytics_unless_host_only(
    admin_client_a, admin_a, member_a, target, org_a, locale
):
    set_locale(admin_a, locale)
    hosted_all = MeetingFactory(host=target, access=Meeting.Access.ALL, title="All: hosted")
    hosted_spec = MeetingFactory(
        host=target,
        access=Meeting.Access.SPECIFIED,
        title="Specified: hosted",
        allowed_users=[admin_a],
    )
    hosted_host = MeetingFactory(host=target, access=Meeting.Access.HOST, title="Host only: hosted")
    uploaded_all = MeetingFactory(
        host=member_a, uploader=target, access=Meeting.Access.ALL, title="All: uploaded"
    )
    uploaded_spec = MeetingFactory(
        host=member_a,
        uploader=target,
        access=Meeting.Access.SPECIFIED,
        title="Specified: uploaded",
        allowed_users=[admin_a],
    )
    title = tr(locale, "Meetings, newest first")
    kept = ["All: hosted", "All: uploaded", "Specified: hosted", "Specified: uploaded"]
    before = page(admin_client_a.get(MEETINGS_URL))
    assert sorted(before.column(title, 1)) == kept

    delete(admin_client_a, target)

    after = page(admin_client_a.get(MEETINGS_URL))
    rows = {row[1]: row for row in after.table(title)}
    assert sorted(rows) == kept
    assert rows["All: hosted"][2] == deleted_label(NAME, locale)
    assert rows["Specified: hosted"][2] == deleted_label(NAME, locale)
    assert rows["All: uploaded"][2:4] == ["Member A", deleted_label(NAME, locale)]
    for meeting in (hosted_all, hosted_spec, uploaded_all, uploaded_spec):
        detail = page(admin_client_a.get(meeting_url(meeting)))
        assert deleted_label(NAME, locale) in (
            detail.value(tr(locale, "Host")),
            detail.value(tr(locale, "Uploader")),
        )
    assert admin_client_a.get(meeting_url(hosted_host)).status_code == 404
    # Access settings still decide for the others: "All users" reaches everyone in the
    # organization, "Host and specified users" the host and the specified users only.
    member_sees = set(selectors.visible_meetings(viewer=member_a).values_list("title", flat=True))
    assert member_sees == {"All: hosted", "All: uploaded", "Specified: uploaded"}
    for viewer in live_users(org_a):
        assert hosted_host.pk not in set(
            selectors.visible_meetings(viewer=viewer).values_list("pk", flat=True)
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_meetings_uploaded_by_deleted_user_remain_in_video_dashboard_marked_deleted(
    admin_client_a, admin_a, member_a, target, org_a, locale
):
    set_locale(admin_a, locale)
    MeetingFactory(host=member_a, uploader=target, access=Meeting.Access.ALL)
    MeetingFactory(host=target, uploader=target, access=Meeting.Access.HOST)
    MeetingFactory(host=member_a, uploader=member_a)
    title = tr(locale, "Meetings by uploader")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert before.table(title) == [[NAME, "2"], ["Member A", "1"]]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    assert after.table(title) == [[deleted_label(NAME, locale), "2"], ["Member A", "1"]]
    assert tr(locale, "%(total)s meetings in all.") % {"total": "3"} in after.text
    video = selectors.video_dashboard(organization=org_a)
    assert video["total"] == 3
    assert [(u.pk, u.is_deleted, n) for u, n in video["by_uploader"]] == [
        (target.pk, True, 2),
        (member_a.pk, False, 1),
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_meetings_hosted_by_deleted_user_remain_in_video_dashboard_marked_deleted(
    admin_client_a, admin_a, member_a, target, org_a, locale
):
    set_locale(admin_a, locale)
    for access in (Meeting.Access.ALL, Meeting.Access.SPECIFIED, Meeting.Access.HOST):
        MeetingFactory(host=target, access=access)
    MeetingFactory(host=member_a)
    title = tr(locale, "Meetings by host")
    before = page(admin_client_a.get(DASHBOARD_URL))
    assert before.table(title) == [[NAME, "3"], ["Member A", "1"]]

    delete(admin_client_a, target)

    after = page(admin_client_a.get(DASHBOARD_URL))
    # Host-only meetings included: the Video Dashboard counts every meeting.
    assert after.table(title) == [[deleted_label(NAME, locale), "3"], ["Member A", "1"]]
    video = selectors.video_dashboard(organization=org_a)
    assert video["total"] == 4
    assert [(u.pk, n) for u, n in video["by_host"]] == [(target.pk, 3), (member_a.pk, 1)]


# --- IMPORTANT ------------------------------------------------------------------------------------


def test_by_user_data_removed_for_good(admin_client_a, admin_a, member_a, target, org_a):
    by_user_days(target, 5, call_count=12, score=90.0)
    by_user_days(member_a, 3, call_count=4)
    others = list(ByUserDaily.objects.filter(user=member_a).order_by("pk").values())
    title = tr("en", "Calls by user")
    before = page(admin_client_a.get(DASHBOARD_URL, {"user": target.pk}))
    assert before.table(title) == [[NAME, "60", "50:00", "90.0"]]

    delete(admin_client_a, target)

    # Gone from the database, not hidden: nothing is left to restore.
    assert ByUserDaily.objects.filter(user_id=target.pk).count() == 0
    assert list(ByUserDaily.objects.filter(user=member_a).order_by("pk").values()) == others
    assert selectors.by_user_table(organization=org_a, since_day=None, user=target) == []
    after = page(admin_client_a.get(DASHBOARD_URL, {"days": 0}))
    assert [row[0] for row in after.table(title)] == ["Member A"]
    # A new user given the same login ID starts with no By-user data.
    newcomer = UserFactory(organization=org_a, login_id="kato@a.example.com", name=NAME)
    assert selectors.by_user_table(organization=org_a, since_day=None, user=newcomer) == []
    fresh = page(admin_client_a.get(DASHBOARD_URL, {"user": newcomer.pk, "days": 0}))
    assert fresh.table(title) == [[tr("en", "No By-user data for this period.")]]
