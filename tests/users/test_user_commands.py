"""list_users, update_user, activate_user, deactivate_user and set_permissions: the same rules as
the console (they call the same services), clear errors, non-zero exit status, JSON output."""

import json
import re
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User, UserSession
from audit.models import AuditEvent
from permissions.models import ServiceGrant
from tests.factories import AdminFactory, GrantFactory, UserFactory


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def team(org_a, admin_a):
    a = UserFactory(organization=org_a, login_id="aoki@a.example.com", name="Aoki", extension="301")
    b = UserFactory(organization=org_a, login_id="baba@a.example.com", name="Baba", is_active=False)
    GrantFactory(user=a, service="phone")
    return a, b


def test_list_users_prints_a_table_and_json_with_filters(org_a, org_b, team):
    UserFactory(organization=org_b, login_id="other@b.example.com", name="Other")
    out, _ = run("list_users", "--organization", "org-a")
    assert "aoki@a.example.com" in out and "deactivated" in out
    assert "other@b.example.com" not in out

    out, _ = run("list_users", "--organization", "org-a", "--json", "--status", "inactive")
    rows = json.loads(out)
    assert [r["login_id"] for r in rows] == ["baba@a.example.com"]
    out, _ = run("list_users", "--organization", "org-a", "--json", "--service", "phone")
    assert [r["login_id"] for r in json.loads(out)] == ["aoki@a.example.com"]
    out, _ = run("list_users", "--organization", "org-a", "--json", "--search", "301")
    assert json.loads(out)[0]["services"] == ["phone"]


def test_update_user_changes_only_the_given_fields_and_audits(team):
    a, _ = team
    out, _ = run(
        "update_user",
        "--organization",
        "org-a",
        "--login-id",
        "AOKI@a.example.com",
        "--name",
        "青木",
        "--extension",
        "",
    )
    a.refresh_from_db()
    assert (a.name, a.extension, a.locale) == ("青木", "", "ja")
    assert "name: Aoki -> 青木" in out
    event = AuditEvent.objects.filter(target=a, action="user_update").get()
    assert event.actor_label.startswith("operator:update_user")


def test_update_user_generates_a_temporary_password_and_ends_sessions(team):
    a, _ = team
    old = a.password
    signed_in = Client()
    signed_in.force_login(a)
    key = signed_in.session.session_key
    assert UserSession.objects.filter(user=a, session_id=key).exists()
    out, _ = run(
        "update_user",
        "--organization",
        "org-a",
        "--login-id",
        a.login_id,
        "--generate-password",
        "--json",
    )
    password = json.loads(out)["temporary_password"]
    a.refresh_from_db()
    assert a.password != old and a.check_password(password) and a.must_change_password
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(user=a).exists()


def test_update_user_reports_every_problem_and_changes_nothing(team):
    a, _ = team
    before = User.objects.filter(pk=a.pk).values().get()
    with pytest.raises(CommandError) as error:
        run(
            "update_user",
            "--organization",
            "org-a",
            "--login-id",
            a.login_id,
            "--name",
            "x" * 31,
            "--extension",
            "12",
            "--services",
            "teleport",
        )
    lines = str(error.value).splitlines()
    assert any(line.startswith("name:") for line in lines)
    assert any(line.startswith("extension:") for line in lines)
    assert any("teleport" in line for line in lines)
    assert User.objects.filter(pk=a.pk).values().get() == before
    assert set(ServiceGrant.objects.filter(user=a).values_list("service", flat=True)) == {"phone"}
    assert not AuditEvent.objects.filter(target=a, action="user_update").exists()


def test_deactivate_and_activate_user(team):
    a, _ = team
    out, _ = run("deactivate_user", "--organization", "org-a", "--login-id", a.login_id)
    assert "is now deactivated" in out
    assert not User.objects.get(pk=a.pk).is_active
    out, _ = run("deactivate_user", "--organization", "org-a", "--login-id", a.login_id)
    assert "already deactivated" in out
    out, _ = run("activate_user", "--organization", "org-a", "--login-id", a.login_id, "--json")
    assert json.loads(out) == {"login_id": a.login_id, "active": True, "changed": True}


def test_the_last_active_admin_cannot_be_deactivated_from_the_command_line(admin_a):
    with pytest.raises(CommandError, match="last active admin"):
        run("deactivate_user", "--organization", "org-a", "--login-id", admin_a.login_id)
    assert User.objects.get(pk=admin_a.pk).is_active


def test_set_permissions_replaces_grants_and_revokes(team):
    a, _ = team
    out, _ = run(
        "set_permissions",
        "--organization",
        "org-a",
        "--login-id",
        a.login_id,
        "--grant",
        "monitoring,meeting_access=all",
    )
    assert dict(ServiceGrant.objects.filter(user=a).values_list("service", "level")) == {
        "phone": "",
        "monitoring": "",
        "meeting_access": "all",
    }
    run(
        "set_permissions",
        "--organization",
        "org-a",
        "--login-id",
        a.login_id,
        "--services",
        "call_history",
    )
    assert set(ServiceGrant.objects.filter(user=a).values_list("service", flat=True)) == {
        "call_history"
    }
    out, _ = run(
        "set_permissions",
        "--organization",
        "org-a",
        "--login-id",
        a.login_id,
        "--revoke",
        "call_history",
        "--json",
    )
    assert json.loads(out)["services"] == {}


def test_set_permissions_refuses_monitoring_without_phone_and_unknown_users(team, org_a):
    _, b = team
    with pytest.raises(CommandError, match="requires MiiTel Phone"):
        run(
            "set_permissions",
            "--organization",
            "org-a",
            "--login-id",
            b.login_id,
            "--services",
            "monitoring",
        )
    assert not ServiceGrant.objects.filter(user=b).exists()
    with pytest.raises(CommandError, match=re.escape("no user “nobody@a.example.com”")):
        run(
            "set_permissions",
            "--organization",
            "org-a",
            "--login-id",
            "nobody@a.example.com",
            "--services",
            "phone",
        )
    with pytest.raises(CommandError, match="no organization"):
        run("activate_user", "--organization", "nope", "--login-id", b.login_id)


def test_commands_never_reach_another_organizations_user(org_b, team):
    AdminFactory(organization=org_b, login_id="admin@b.example.com")
    a, _ = team
    with pytest.raises(CommandError, match="no user"):
        run("deactivate_user", "--organization", "org-b", "--login-id", a.login_id)
    assert User.objects.get(pk=a.pk).is_active
