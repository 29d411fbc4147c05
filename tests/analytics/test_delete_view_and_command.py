"""Deleting a user from the console (/users/<id>/delete/: GET shows the impact screen, POST
deletes) and from the operator's command (delete_user): the same service, the same rules."""

import io
import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import users.changes
from accounts.models import User
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
from permissions import catalog
from permissions.models import ServiceGrant
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    CallRecordFactory,
    FunnelTeamMemberFactory,
    MeetingFactory,
    MeetingParticipantFactory,
    TableThemeFactory,
    by_user_days,
    normalised,
)
from tests.factories import AdminFactory, GrantFactory, UserFactory

NAME = "Kato Hana"
LOGIN_ID = "kato@a.example.com"
LIST_URL = reverse("users:list")


def delete_url(user_or_id) -> str:
    return reverse("users:delete", args=[getattr(user_or_id, "pk", user_or_id)])


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


@pytest.fixture
def target(org_a):
    return UserFactory(organization=org_a, login_id=LOGIN_ID, name=NAME, extension="201")


@pytest.fixture
def big_history(org_a, target, member_a):
    """1,204 calls and 365 By-user rows of the target, and a little of everything else; the
    member's own activity must not be counted as the target's."""
    assert generate_calls(organization=org_a, user_ids=[target.pk], per_user=1204) == 1204
    assert generate_by_user_days(organization=org_a, user_ids=[target.pk], days=365) == 365
    for code in (catalog.PHONE, catalog.CALL_HISTORY, catalog.DASHBOARD):
        GrantFactory(user=target, service=code)
    MeetingFactory(host=target, access=Meeting.Access.ALL)
    MeetingFactory(host=target, uploader=target, access=Meeting.Access.HOST)
    MeetingFactory(host=target, access=Meeting.Access.HOST)
    shared = MeetingFactory(host=member_a, uploader=target)
    MeetingParticipantFactory(meeting=shared, user=target)
    MeetingParticipantFactory(meeting=shared, user=member_a)
    TableThemeFactory(creator=target)
    BookmarkedFilterFactory.create_batch(2, creator=target)
    FunnelTeamMemberFactory(team__organization=org_a, user=target)
    FunnelTeamMemberFactory(team__organization=org_a, user=target)
    # Noise: the member's own rows.
    CallRecordFactory.create_batch(7, user=member_a)
    by_user_days(member_a, 5)
    TableThemeFactory(creator=member_a)
    GrantFactory(user=member_a, service=catalog.PHONE)
    return target


def state() -> dict:
    """Everything a deletion could change."""
    return {
        "users": list(User.all_objects.order_by("pk").values()),
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                CallRecord,
                ByUserDaily,
                Meeting,
                MeetingParticipant,
                TableTheme,
                BookmarkedFilter,
                FunnelTeamMember,
                ServiceGrant,
                Session,
            )
        },
        "audit": list(
            AuditEvent.objects.filter(action=AuditEvent.Action.USER_DELETE).values_list("pk")
        ),
    }


def messages_text(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def impact_items(response) -> list[str]:
    content = response.content.decode()
    block = content.split('<div class="impact">', 1)[1].split("</div>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", li)).strip()
        for li in re.findall(r"<li>(.*?)</li>", block, re.S)
    ]


# --- GET: the impact screen -----------------------------------------------------------------------


def test_get_shows_this_users_own_counts(admin_client_a, big_history):
    response = admin_client_a.get(delete_url(big_history))

    assert response.status_code == 200
    assert response.templates[0].name == "users/user_confirm_delete.html"
    items = impact_items(response)
    expected = [
        "365 By-user rows (the By-user table and the individual dashboard, scores included) "
        "are removed and cannot be recovered.",
        "They leave 2 Funnel (beta) teams.",
        "2 meetings they host are set to “Host only” and will no longer be accessible to anyone.",
        "1 table theme they created can no longer be deleted.",
        "Their 3 service permissions are removed, freeing their seats.",
        "1,204 call records remain in Call History and are still counted in the Dashboard's "
        "totals.",
        "3 meetings they host remain (in Video Analytics unless they are “Host only”) and in the "
        "Video Dashboard.",
        "2 meetings they uploaded remain in the Video Dashboard.",
        "Their name remains in the participant list of 1 meeting.",
        "1 table theme they created remains.",
        "2 bookmarked filter conditions they created remain.",
    ]
    for line in expected:
        assert line in items, line
    content = response.content.decode()
    assert "Delete Kato Hana?" in content
    assert LOGIN_ID in content
    assert '<form method="post" class="form-actions">' in content
    # Nothing of the member's activity is counted as the target's.
    assert "1,211" not in content


def test_impact_screen_reads_in_japanese_for_a_japanese_speaking_admin(
    admin_client_a, admin_a, big_history
):
    """docs/rules.md: the whole UI renders in the signed-in user's locale (Japanese is the
    default); the screen that warns before an unrecoverable deletion must be readable too."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.JAPANESE)

    response = admin_client_a.get(delete_url(big_history))

    content = response.content.decode()
    assert '<html lang="ja">' in content
    assert "What is removed" not in content
    assert "What remains" not in content
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    english_only = [item for item in impact_items(response) if not japanese.search(item)]
    assert english_only == []


def test_get_changes_nothing(admin_client_a, big_history):
    before = state()
    assert admin_client_a.get(delete_url(big_history)).status_code == 200
    assert state() == before


def test_get_costs_a_few_queries_however_large_the_history(admin_client_a, org_a, big_history):
    small = UserFactory(organization=org_a, login_id="small@a.example.com")
    CallRecordFactory(user=small)
    by_user_days(small, 1)

    with CaptureQueriesContext(connection) as few:
        assert admin_client_a.get(delete_url(small)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert admin_client_a.get(delete_url(big_history)).status_code == 200

    assert len(many.captured_queries) <= 8
    assert len(many.captured_queries) == len(few.captured_queries)


# --- POST: delete ---------------------------------------------------------------------------------


def test_post_deletes_and_redirects_to_the_list_with_a_message(admin_client_a, big_history):
    back = f"{LIST_URL}?q=kato&sort=name"
    response = admin_client_a.post(delete_url(big_history), {"next": back})

    assert response.status_code == 302
    assert response["Location"] == back
    tombstone = User.all_objects.get(pk=big_history.pk)
    assert tombstone.is_deleted
    assert CallRecord.objects.filter(user_id=tombstone.pk).count() == 1204
    assert ByUserDaily.objects.filter(user_id=tombstone.pk).count() == 0
    listed = admin_client_a.get(LIST_URL)
    messages = messages_text(listed)
    assert len(messages) == 1
    assert messages[0].startswith("Kato Hana was deleted. Their call history remains")
    assert LOGIN_ID not in listed.content.decode()
    assert f'href="{delete_url(big_history)}' not in listed.content.decode()


def test_success_message_shows_the_name_as_history_now_shows_it(admin_client_a, target):
    """The message promises how the call history shows the user: "Kato Hana (Deleted)"."""
    response = admin_client_a.post(delete_url(target), follow=True)

    assert response.status_code == 200
    assert messages_text(response) == [
        "Kato Hana was deleted. Their call history remains and shows them as “Kato Hana (Deleted)”."
    ]


def test_a_second_post_finds_nothing(admin_client_a, target):
    assert admin_client_a.post(delete_url(target)).status_code == 302
    before = state()
    assert admin_client_a.post(delete_url(target)).status_code == 404
    assert admin_client_a.get(delete_url(target)).status_code == 404
    assert state() == before


# --- Who may --------------------------------------------------------------------------------------


def test_member_gets_403_and_nothing_changes(member_client_a, target, big_history):
    before = state()
    assert member_client_a.get(delete_url(target)).status_code == 403
    assert member_client_a.post(delete_url(target)).status_code == 403
    assert state() == before


def test_anonymous_is_sent_to_sign_in(client, target):
    before = state()
    for response in (client.get(delete_url(target)), client.post(delete_url(target))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert state() == before


def test_other_organizations_admin_gets_the_same_404_as_for_a_missing_id(
    admin_client_b, admin_b, target, big_history
):
    User.objects.filter(pk=admin_b.pk).update(locale=User.Locale.ENGLISH)
    missing = User.all_objects.order_by("-pk").first().pk + 1000
    before = state()

    for method in ("get", "post"):
        theirs = getattr(admin_client_b, method)(delete_url(target))
        nowhere = getattr(admin_client_b, method)(delete_url(missing))
        assert theirs.status_code == nowhere.status_code == 404, method
        assert normalised(theirs) == normalised(nowhere), method
        assert NAME not in theirs.content.decode()
    assert state() == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_get_405(admin_client_a, target, method):
    before = state()
    response = getattr(admin_client_a, method)(delete_url(target))
    assert response.status_code == 405
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]
    assert state() == before


# --- Guards ---------------------------------------------------------------------------------------


def test_own_menu_has_no_delete_link(admin_client_a, admin_a, member_a, target):
    content = admin_client_a.get(LIST_URL).content.decode()
    assert f'href="{delete_url(admin_a)}' not in content
    assert f'href="{delete_url(member_a)}' in content
    assert f'href="{delete_url(target)}' in content


def test_deleting_yourself_is_refused(admin_client_a, admin_a, org_a):
    AdminFactory(organization=org_a)  # another admin: only the "yourself" rule applies
    page_ = admin_client_a.get(delete_url(admin_a))
    assert page_.status_code == 200
    assert "You cannot delete yourself." in page_.content.decode()
    assert 'class="form-actions"' not in page_.content.decode()
    before = state()

    response = admin_client_a.post(delete_url(admin_a))

    assert response.status_code == 400
    content = response.content.decode()
    assert '<div class="error-summary" role="alert"><p>You cannot delete yourself.</p>' in content
    assert state() == before
    assert admin_client_a.get(LIST_URL).status_code == 200


def test_deleting_the_last_active_admin_is_refused(admin_client_a, admin_a, org_a, monkeypatch):
    """The actor is an admin when the request starts; by the time the deletion holds the
    contract lock, another admin has made them a member (committed just before). The other
    admin being deleted is then the organization's last active admin."""
    other = AdminFactory(organization=org_a, name="Other Admin")
    real_lock = users.changes.contract_lock

    def lock_after_a_concurrent_demotion(organization):
        User.objects.filter(pk=admin_a.pk).update(role=User.Role.MEMBER)
        return real_lock(organization)

    monkeypatch.setattr(users.changes, "contract_lock", lock_after_a_concurrent_demotion)
    by_user_days(other, 3)
    before_other = User.all_objects.filter(pk=other.pk).values().get()

    response = admin_client_a.post(delete_url(other))

    assert response.status_code == 400
    assert "last active admin" in response.content.decode()
    assert User.all_objects.filter(pk=other.pk).values().get() == before_other
    assert ByUserDaily.objects.filter(user=other).count() == 3
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_DELETE).exists()


# --- The delete_user command ----------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("delete_user", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_error(*args: str) -> str:
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    return str(excinfo.value)


def impact_lines(output: str) -> dict[str, int]:
    """{label (stripped): number} of the printed impact lines."""
    return {
        m.group(2).strip(): int(m.group(1).replace(",", ""))
        for m in re.finditer(r"^\s+([\d,]+)  (.+)$", output, re.M)
    }


def test_command_prints_the_impact_and_refuses_without_yes_when_not_interactive(org_a, big_history):
    out = io.StringIO()
    before = state()

    with pytest.raises(CommandError) as excinfo:
        call_command("delete_user", "--organization", "org-a", "--login-id", LOGIN_ID, stdout=out)

    assert "--yes" in str(excinfo.value)
    assert "Not deleted" in str(excinfo.value)
    printed = out.getvalue()
    assert f"Deleting {LOGIN_ID} ({NAME}) from org-a:" in printed
    assert "1,204  call records kept (Call History, Dashboard totals)" in printed
    lines = impact_lines(printed)
    assert lines["call records kept (Call History, Dashboard totals)"] == 1204
    assert lines["By-user rows removed for good (By-user table, individual dashboard)"] == 365
    assert lines["service permissions removed"] == 3
    assert lines["Funnel (beta) teams left"] == 2
    assert lines["meetings hosted, kept"] == 3
    assert lines["of which Host only: no longer accessible to anyone"] == 2
    assert lines["meetings uploaded, kept (Video Dashboard)"] == 2
    assert lines["table themes kept, can no longer be deleted"] == 1
    assert lines["bookmarked filter conditions kept"] == 2
    assert state() == before


def test_command_deletes_with_yes(org_a, big_history):
    out, _err = run("--organization", "org-a", "--login-id", LOGIN_ID.upper(), "--yes")

    assert out.strip().endswith(f"Deleted {LOGIN_ID}.")
    tombstone = User.all_objects.get(pk=big_history.pk)
    assert tombstone.is_deleted
    assert tombstone.login_id == ""
    assert CallRecord.objects.filter(user_id=tombstone.pk).count() == 1204
    assert ByUserDaily.objects.filter(user_id=tombstone.pk).count() == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_DELETE)
    assert event.actor is None
    assert event.actor_label.startswith("operator:delete_user")
    assert event.target_label == LOGIN_ID


def test_command_json_output_parses(org_a, big_history):
    out, _err = run("--organization", "org-a", "--login-id", LOGIN_ID, "--yes", "--json")

    data = json.loads(out)
    assert data["login_id"] == LOGIN_ID
    assert data["deleted"] is True
    assert data["impact"]["call_records"] == 1204
    assert data["impact"]["by_user_rows"] == 365
    assert data["impact"]["grants"] == 3
    assert data["removed"]["by_user_rows"] == 365
    assert data["removed"]["grants"] == 3
    assert data["removed"]["funnel_memberships"] == 2
    assert User.all_objects.get(pk=big_history.pk).is_deleted


def test_command_json_counts_sessions_like_the_impact(org_a, target):
    from django.test import Client

    Client().force_login(target)
    out, _err = run("--organization", "org-a", "--login-id", LOGIN_ID, "--yes", "--json")

    data = json.loads(out)
    assert data["impact"]["sessions"] == 1
    assert data["removed"]["sessions"] == data["impact"]["sessions"]


def test_command_asks_when_interactive(org_a, target, monkeypatch):
    import users.management.commands.delete_user as command

    monkeypatch.setattr(command, "is_tty", lambda stream: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "someone-else@a.example.com")
    before = state()
    assert "did not match" in run_error("--organization", "org-a", "--login-id", LOGIN_ID)
    assert state() == before

    monkeypatch.setattr("builtins.input", lambda prompt="": f"  {LOGIN_ID.upper()} ")
    out, _err = run("--organization", "org-a", "--login-id", LOGIN_ID)
    assert f"Deleted {LOGIN_ID}." in out
    assert User.all_objects.get(pk=target.pk).is_deleted


def test_command_unknown_login_id_is_an_error(org_a, target):
    before = state()
    message = run_error("--organization", "org-a", "--login-id", "nobody@a.example.com", "--yes")
    assert "nobody@a.example.com" in message
    assert state() == before


def test_command_user_of_another_organization_is_unknown(org_a, org_b, admin_b, target):
    before = state()
    message = run_error("--organization", "org-a", "--login-id", admin_b.login_id, "--yes")
    assert "no user" in message
    assert state() == before


def test_command_unknown_organization_is_an_error(target):
    before = state()
    assert "no-such-org" in run_error(
        "--organization", "no-such-org", "--login-id", LOGIN_ID, "--yes"
    )
    assert state() == before


def test_command_refuses_the_last_active_admin(org_a, admin_a):
    before = state()
    message = run_error("--organization", "org-a", "--login-id", admin_a.login_id, "--yes")
    assert "last active admin" in message
    assert state() == before


def test_command_refuses_the_last_active_admin_before_showing_any_impact(org_a, admin_a):
    """An operator is not shown what a deletion would do when it cannot be done."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(
            "delete_user",
            "--organization",
            "org-a",
            "--login-id",
            admin_a.login_id,
            "--yes",
            stdout=out,
            stderr=err,
        )
    assert "last active admin" in str(refused.value)
    assert out.getvalue() == ""
    assert "By-user rows" not in err.getvalue()
