"""The user page /users/<id>/ (docs/rules.md): details, services, 2-step verification, active
sessions with "sign out everywhere", sign-in history and the audit history, paginated; and the
cancelling of a scheduled deactivation from it."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, UserSession
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from permissions import catalog
from tests.factories import PASSWORD, GrantFactory, UserFactory
from users.changes import Change, apply_changes
from users.detail_views import HISTORY_PER_PAGE


@pytest.fixture(autouse=True)
def english(admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale="en")


@pytest.fixture
def target(org_a):
    user = UserFactory(organization=org_a, login_id="taro@a.example.com", name="Taro Yamada")
    GrantFactory(user=user, service=catalog.PHONE)
    return user


def signed_in(user) -> Client:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 TestBrowser")
    response = client.post(reverse("login"), {"username": user.login_id, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_page_shows_the_users_details_services_and_sessions(admin_client_a, target):
    signed_in(target)
    response = admin_client_a.get(reverse("users:detail", args=[target.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Taro Yamada" in text and "taro@a.example.com" in text
    assert "MiiTel Phone" in text
    assert "TestBrowser" in text  # the active session, with its browser
    assert reverse("users:edit", args=[target.pk]) in text
    assert reverse("users:deactivate", args=[target.pk]) in text
    assert reverse("users:delete", args=[target.pk]) in text


def test_the_sign_in_history_shows_successes_and_failures_with_the_method(admin_client_a, target):
    signed_in(target)
    Client().post(reverse("login"), {"username": target.login_id, "password": "wrong password"})
    response = admin_client_a.get(reverse("users:detail", args=[target.pk]))
    sign_ins = response.context["sign_ins"]
    assert [s.succeeded for s in sign_ins] == [False, True]
    assert sign_ins[1].method == "Password"
    assert sign_ins[1].ip_address == "127.0.0.1"


def test_the_audit_history_is_paginated_and_only_this_users(admin_client_a, admin_a, target):
    other = UserFactory(organization=admin_a.organization)
    actor = Actor(user=admin_a, label=admin_a.login_id)
    for n in range(HISTORY_PER_PAGE + 3):
        audit_record(
            actor=actor,
            action=AuditEvent.Action.USER_UPDATE,
            organization=admin_a.organization,
            target=target,
            changes={"name": [f"n{n}", f"n{n + 1}"]},
        )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.USER_UPDATE,
        organization=admin_a.organization,
        target=other,
    )
    url = reverse("users:detail", args=[target.pk])
    first = admin_client_a.get(url)
    assert len(first.context["history"]) == HISTORY_PER_PAGE
    second = admin_client_a.get(url + "?page=2")
    assert len(second.context["history"]) == 3
    assert all(row.event.target_id == target.pk for row in second.context["history"])


def test_sign_out_everywhere_ends_every_session_of_the_user(admin_client_a, target):
    signed_in(target)
    signed_in(target)
    assert UserSession.objects.filter(user=target).count() == 2
    response = admin_client_a.post(reverse("users:sign_out", args=[target.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("users:detail", args=[target.pk])
    assert not UserSession.objects.filter(user=target).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SESSIONS_END, target=target)
    assert event.detail == "sessions: 2"


def test_signing_yourself_out_everywhere_keeps_this_session(admin_a, target):
    client = signed_in(admin_a)
    other = signed_in(admin_a)
    client.post(reverse("users:sign_out", args=[admin_a.pk]))
    assert client.get(reverse("users:detail", args=[admin_a.pk])).status_code == 200
    assert other.get(reverse("users:list")).status_code == 302  # sent to sign in


def test_the_page_shows_and_cancels_a_scheduled_deactivation(admin_client_a, org_a, target):
    when = timezone.now() + timedelta(days=3)
    User.objects.filter(pk=target.pk).update(deactivate_at=when)
    target.refresh_from_db()
    url = reverse("users:detail", args=[target.pk])
    assert "Cancel the scheduled deactivation" in admin_client_a.get(url).content.decode()

    response = admin_client_a.post(
        reverse("users:cancel_schedule", args=[target.pk]), {"version": target.version}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.deactivate_at is None
    event = AuditEvent.objects.filter(target=target).latest("id")
    assert "deactivate_at" in event.changes


def test_cancelling_over_a_newer_version_is_refused(admin_client_a, target):
    when = timezone.now() + timedelta(days=3)
    apply_changes(
        organization=target.organization,
        actor=Actor.operator("test"),
        changes=[Change(user_id=target.pk, fields={"deactivate_at": when})],
    )
    target.refresh_from_db()
    apply_changes(
        organization=target.organization,
        actor=Actor.operator("test"),
        changes=[Change(user_id=target.pk, fields={"name": "Renamed"})],
    )
    response = admin_client_a.post(
        reverse("users:cancel_schedule", args=[target.pk]),
        {"version": target.version},
        follow=True,
    )
    target.refresh_from_db()
    assert target.deactivate_at is not None
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1
    assert "Renamed was changed by someone else after you opened this page." in shown[0]


def test_a_member_gets_403(member_client_a, target):
    assert member_client_a.get(reverse("users:detail", args=[target.pk])).status_code == 403
    assert member_client_a.post(reverse("users:sign_out", args=[target.pk])).status_code == 403


def test_another_organizations_user_is_404(admin_client_b, target):
    assert admin_client_b.get(reverse("users:detail", args=[target.pk])).status_code == 404
    response = admin_client_b.post(reverse("users:sign_out", args=[target.pk]))
    assert response.status_code == 404
    response = admin_client_b.post(reverse("users:cancel_schedule", args=[target.pk]))
    assert response.status_code == 404


def test_wrong_methods_are_405(admin_client_a, target):
    assert admin_client_a.post(reverse("users:detail", args=[target.pk])).status_code == 405
    assert admin_client_a.get(reverse("users:sign_out", args=[target.pk])).status_code == 405
    response = admin_client_a.get(reverse("users:cancel_schedule", args=[target.pk]))
    assert response.status_code == 405


def test_a_deleted_user_is_404(admin_client_a, target):
    apply_changes(
        organization=target.organization,
        actor=Actor.operator("test"),
        changes=[Change(user_id=target.pk, delete=True)],
    )
    assert admin_client_a.get(reverse("users:detail", args=[target.pk])).status_code == 404


def test_the_queries_do_not_grow_with_the_history(admin_client_a, admin_a, target):
    url = reverse("users:detail", args=[target.pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_a.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for _n in range(40):
        audit_record(
            actor=Actor(user=admin_a, label=admin_a.login_id),
            action=AuditEvent.Action.USER_UPDATE,
            organization=admin_a.organization,
            target=target,
        )
    for _n in range(5):
        signed_in(target)
    assert queries() == few


def test_expired_sessions_are_not_listed(admin_client_a, target):
    signed_in(target)
    Session.objects.filter(
        session_key__in=UserSession.objects.filter(user=target).values("session_id")
    ).update(expire_date=timezone.now() - timedelta(minutes=1))
    response = admin_client_a.get(reverse("users:detail", args=[target.pk]))
    assert response.context["sessions"] == []


def test_the_list_links_each_name_to_the_user_page(admin_client_a, target):
    response = admin_client_a.get(reverse("users:list"))
    assert f'href="{reverse("users:detail", args=[target.pk])}?next=' in response.content.decode()


def test_single_sign_on_appears_in_the_sign_in_history(admin_client_a, target):
    for action, outcome in (
        (AuditEvent.Action.SSO_LOGIN, AuditEvent.Outcome.SUCCESS),
        (AuditEvent.Action.SSO_FAILED, AuditEvent.Outcome.FAILURE),
    ):
        audit_record(
            actor=Actor(user=None, label="anonymous"),
            action=action,
            outcome=outcome,
            organization=target.organization,
            target=target,
        )
    response = admin_client_a.get(reverse("users:detail", args=[target.pk]))
    assert [(s.method, s.succeeded) for s in response.context["sign_ins"]] == [
        ("Single sign-on", False),
        ("Single sign-on", True),
    ]
