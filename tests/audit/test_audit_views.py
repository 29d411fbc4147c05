"""The audit log (/audit/): one organization's events, newest first, filters by actor, target,
action and date range (in the admin's time zone), bad filter values, and the access rules."""

import datetime as dt
import html
import re
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent

AUDIT_URL = reverse("audit:list")
JST = zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


# --- helpers ------------------------------------------------------------------------------------


def shown_times(response) -> list[str]:
    """The events' timestamps (ISO 8601, in the admin's zone), in the order shown."""
    content = response.content.decode()
    tbody = content.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<time datetime="([^"]+)">', tbody)


def iso(event: AuditEvent) -> str:
    return event.created_at.astimezone(JST).isoformat()


def event(organization, when: dt.datetime, **fields) -> AuditEvent:
    fields.setdefault("action", AuditEvent.Action.USER_UPDATE)
    fields.setdefault("actor_label", "admin@a.example.com")
    return AuditEvent.objects.create(organization=organization, created_at=when, **fields)


@pytest.fixture
def events(org_a, org_b, admin_a, member_a, admin_b):
    """Four events of organization A (around a JST midnight) and one of organization B."""
    created = event(
        org_a,
        dt.datetime(2024, 3, 9, 10, 0, tzinfo=JST),
        action=AuditEvent.Action.USER_CREATE,
        actor=admin_a,
        target_label="alpha@a.example.com",
        changes={"name": [None, "Alpha"]},
    )
    renamed = event(
        org_a,
        dt.datetime(2024, 3, 10, 23, 30, tzinfo=JST),  # 14:30 UTC on the 10th
        actor_label="other.admin@a.example.com",
        target=member_a,
        target_label="bravo@a.example.com",
        changes={"name": ["Bravo", "Bravo Renamed"]},
    )
    deactivated = event(
        org_a,
        dt.datetime(2024, 3, 11, 0, 30, tzinfo=JST),  # 15:30 UTC on the 10th
        action=AuditEvent.Action.USER_DEACTIVATE,
        actor=admin_a,
        target=member_a,
        target_label="bravo@a.example.com",
        changes={"is_active": [True, False]},
        ip_address="203.0.113.7",
    )
    granted = event(
        org_a,
        dt.datetime(2024, 3, 12, 12, 0, tzinfo=JST),
        action=AuditEvent.Action.PERMISSIONS_CHANGE,
        actor_label="operator:set_permissions (root)",
        target_label="charlie@a.example.com",
        changes={"services": [[], ["phone"]]},
    )
    foreign = event(
        org_b,
        dt.datetime(2024, 3, 11, 12, 0, tzinfo=JST),
        action=AuditEvent.Action.USER_CREATE,
        actor=admin_b,
        actor_label="admin@b.example.com",
        target_label="secret@b.example.com",
    )
    return {
        "created": created,
        "renamed": renamed,
        "deactivated": deactivated,
        "granted": granted,
        "foreign": foreign,
    }


def expected(events, *names) -> list[str]:
    return [iso(events[name]) for name in names]


# --- listing ------------------------------------------------------------------------------------


def test_lists_only_the_organizations_events_newest_first(admin_client_a, events):
    count = AuditEvent.objects.count()

    response = admin_client_a.get(AUDIT_URL)

    assert response.status_code == 200
    assert response.templates[0].name == "audit/audit_list.html"
    assert shown_times(response) == expected(events, "granted", "deactivated", "renamed", "created")
    content = response.content.decode()
    assert "secret@b.example.com" not in content
    assert "admin@b.example.com" not in content
    assert AuditEvent.objects.count() == count  # reading the log records nothing


def test_ties_in_time_are_ordered_newest_id_first(admin_client_a, org_a):
    when = dt.datetime(2024, 4, 1, 9, 0, tzinfo=JST)
    first = event(org_a, when, target_label="first@a.example.com")
    second = event(org_a, when, target_label="second@a.example.com")

    content = admin_client_a.get(AUDIT_URL).content.decode()

    assert first.pk < second.pk
    assert content.index("second@a.example.com") < content.index("first@a.example.com")


def test_rows_show_actor_action_target_before_after_and_ip(admin_client_a, events):
    content = admin_client_a.get(AUDIT_URL).content.decode()

    assert "other.admin@a.example.com" in content
    assert "User edited" in content
    assert "User deactivated" in content
    assert "Services changed" in content
    assert "<dt>User name</dt><dd>Bravo → Bravo Renamed</dd>" in content
    assert "<dt>User name</dt><dd>— → Alpha</dd>" in content
    assert "<dt>Status</dt><dd>Active → Deactivated</dd>" in content
    assert "<dt>Services</dt><dd>— → MiiTel Phone</dd>" in content
    assert "Operator (set_permissions, root)" in content
    assert "203.0.113.7" in content
    assert '<time datetime="2024-03-11T00:30:00+09:00">11 Mar 2024, 00:30</time>' in content


def test_other_organizations_admin_sees_only_their_own_events(admin_client_b, events):
    response = admin_client_b.get(AUDIT_URL)

    assert response.status_code == 200
    assert shown_times(response) == expected(events, "foreign")
    content = response.content.decode()
    for label in ("alpha@a.example.com", "bravo@a.example.com", "charlie@a.example.com"):
        assert label not in content
    # Filtering for org A's values finds nothing either.
    assert shown_times(admin_client_b.get(AUDIT_URL, {"target": "bravo"})) == []


def test_changes_made_in_the_console_appear_without_the_password(admin_client_a, member_a):
    password = "Nw5$tz81Qa"
    admin_client_a.post(
        reverse("users:edit", args=[member_a.pk]),
        {
            "login_id": member_a.login_id,
            "name": "Member Renamed",
            "password": password,
            "locale": member_a.locale,
            "time_zone": member_a.time_zone,
            "role": member_a.role,
            "extension": "",
            "is_active": "on",
        },
    )

    response = admin_client_a.get(AUDIT_URL, {"target": member_a.login_id})

    content = response.content.decode()
    assert "Temporary password set" in content
    assert "User edited" in content
    assert "<dt>User name</dt><dd>Member A → Member Renamed</dd>" in content
    assert password not in content
    member_a.refresh_from_db()
    assert member_a.password not in content
    assert len(shown_times(response)) == 2


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"actor": "other.admin"}, ["renamed"]),
        ({"actor": "OPERATOR:"}, ["granted"]),
        ({"actor": "admin@a.example.com"}, ["deactivated", "renamed", "created"]),
        ({"target": "bravo"}, ["deactivated", "renamed"]),
        ({"target": "CHARLIE@A.EXAMPLE.COM"}, ["granted"]),
        ({"target": "secret@b.example.com"}, []),
        ({"action": "user_deactivate"}, ["deactivated"]),
        ({"action": "user_create"}, ["created"]),
        ({"action": "user_delete"}, []),
        ({"date_from": "2024-03-11"}, ["granted", "deactivated"]),
        ({"date_to": "2024-03-10"}, ["renamed", "created"]),
        ({"date_from": "2024-03-10", "date_to": "2024-03-11"}, ["deactivated", "renamed"]),
        ({"date_from": "2024-03-11", "date_to": "2024-03-11"}, ["deactivated"]),
        ({"date_from": "2024-03-12", "date_to": "2024-03-10"}, []),
        ({"actor": "admin@a", "action": "user_update"}, ["renamed"]),
        ({"target": "bravo", "date_to": "2024-03-10"}, ["renamed"]),
    ],
)
def test_filters_by_actor_target_action_and_dates_in_the_admins_time_zone(
    admin_client_a, events, params, names
):
    response = admin_client_a.get(AUDIT_URL, params)

    assert response.status_code == 200
    assert shown_times(response) == expected(events, *names)


def test_filters_are_kept_in_the_page_links(admin_client_a, org_a):
    start = dt.datetime(2024, 5, 1, 9, 0, tzinfo=JST)
    for i in range(55):
        event(org_a, start + dt.timedelta(minutes=i), target_label=f"t{i}@a.example.com")
    event(org_a, start, action=AuditEvent.Action.LOGIN, target_label="login@a.example.com")

    page1 = admin_client_a.get(AUDIT_URL, {"action": "user_update", "date_from": "2024-05-01"})

    assert len(shown_times(page1)) == 50
    nav = re.search(r'<nav class="pagination".*?</nav>', page1.content.decode(), re.S).group(0)
    hrefs = {text: href for href, text in re.findall(r'href="([^"]*)"[^>]*>([^<]*)</a>', nav)}
    query = parse_qs(urlsplit(html.unescape(hrefs["Next"])).query)
    assert query == {"action": ["user_update"], "date_from": ["2024-05-01"], "page": ["2"]}
    page2 = admin_client_a.get(AUDIT_URL, {k: v[0] for k, v in query.items()})
    assert len(shown_times(page2)) == 5
    assert "login@a.example.com" not in page2.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "date_from=not-a-date",
        "date_to=2024-02-30",
        "date_from=2024-13-01",
        "date_from=10000-01-01",
        "date_to=99999-12-31",
        "action=bogus",
        "action=",
        "page=abc",
        "page=0",
        "page=-1",
        "page=99999999999999999999",
        "actor=" + "x" * 500,
        "target=%00",
        "actor=%25&target=_",
        "date_from=2024-03-10&date_from=bad",
    ],
)
def test_bad_filter_values_do_not_500(admin_client_a, events, query):
    response = admin_client_a.get(f"{AUDIT_URL}?{query}")

    assert response.status_code == 200
    shown = set(shown_times(response))
    assert iso(events["foreign"]) not in shown


@pytest.mark.parametrize(
    "query",
    ["date_from=0001-01-01", "date_to=0001-01-01", "date_from=9999-12-31", "date_to=9999-12-31"],
)
def test_dates_outside_2000_to_2099_are_a_form_error_and_ignored(admin_client_a, events, query):
    """Year 1 or 9999 would overflow once converted to UTC; the form refuses them by name."""
    response = admin_client_a.get(f"{AUDIT_URL}?{query}")

    assert response.status_code == 200
    field = query.split("=")[0]
    assert "2000-01-01" in response.context["form"].errors[field][0]
    assert shown_times(response) == expected(events, "granted", "deactivated", "renamed", "created")


def test_invalid_filter_is_reported_and_the_others_still_apply(admin_client_a, events):
    response = admin_client_a.get(AUDIT_URL, {"date_from": "not-a-date", "target": "bravo"})

    assert response.status_code == 200
    assert "date_from" in response.context["form"].errors
    assert shown_times(response) == expected(events, "deactivated", "renamed")


def test_literal_wildcards_in_text_filters(admin_client_a, events, org_a):
    event(org_a, dt.datetime(2024, 6, 1, tzinfo=JST), target_label="100%off@a.example.com")

    percent = admin_client_a.get(AUDIT_URL, {"target": "%"})
    underscore = admin_client_a.get(AUDIT_URL, {"target": "_"})

    assert len(shown_times(percent)) == 1
    assert shown_times(underscore) == []


# --- access -------------------------------------------------------------------------------------


def test_member_gets_403(member_client_a, events):
    count = AuditEvent.objects.count()

    response = member_client_a.get(AUDIT_URL)

    assert response.status_code == 403
    assert "bravo@a.example.com" not in response.content.decode()
    assert AuditEvent.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "expected_next"),
    [("/audit/", "/audit/"), ("/audit/?action=login", "/audit/%3Faction%3Dlogin")],
)
def test_anonymous_is_sent_to_sign_in(client, path, expected_next):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={expected_next}"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_audit_list_accepts_get_only(admin_client_a, events, method):
    count = AuditEvent.objects.count()

    response = getattr(admin_client_a, method)(AUDIT_URL)

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert AuditEvent.objects.count() == count
