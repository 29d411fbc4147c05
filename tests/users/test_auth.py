"""Sign-in, sign-out, sessions, temporary passwords, timeouts, lockout, audit and language.

docs/rules.md (login ID, password, locale, active) and §4 (/login/, /logout/, /password/change/);
docs/security.md(brute force), 12 (no enumeration), 14 (temporary passwords), 16 (session
rotation and logout), 17 (deactivation or a reset ends sessions), 18 (timeouts) and 30 (audit).

django-axes is enabled here (settings_test keeps it on); its counters live in the database, so
each test's transaction isolates them. Test users sign in with the MD5 hasher of settings_test.
"""

import datetime as dt
import json
import logging
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.hashers import MiitelArgon2PasswordHasher
from accounts.models import User, UserSession
from audit.models import AuditEvent
from audit.services import Actor
from tests.factories import PASSWORD, AdminFactory, UserFactory
from tests.services import set_active, update_user

TOKYO = ZoneInfo("Asia/Tokyo")
IP = "10.0.0.1"
OTHER_IP = "10.0.0.2"
# Distinctive strings, so that a leak into an audit row or a log line is unmistakable.
WRONG_PASSWORD = "Wr0ng-Secret#417"
NEW_PASSWORD = "Kx9#vTq2!mRw"
RESET_PASSWORD = "Tmp-Reset#8823"
REFUSAL = "The login ID or password is incorrect, or the account cannot sign in."
# A fixed instant for time travel: 09:00 in Tokyo, so a retry time reads 09:15.
T0 = dt.datetime(2030, 1, 15, 9, 0, tzinfo=TOKYO)
CONSOLE_URLS = ["/", "/users/", "/users/new/", "/audit/"]


# --- helpers ------------------------------------------------------------------------------------


def sign_in(client, login_id, password, *, ip=IP, language="en"):
    data = {}
    if login_id is not None:
        data["username"] = login_id
    if password is not None:
        data["password"] = password
    return client.post(reverse("login"), data, REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE=language)


def session_key(client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie is not None and cookie.value else None


def session_data(client) -> dict:
    """The client's session as stored (without creating one, as `client.session` would)."""
    key = session_key(client)
    if key is None:
        return {}
    row = Session.objects.filter(session_key=key, expire_date__gt=timezone.now()).first()
    return row.get_decoded() if row is not None else {}


def signed_in_user_id(client) -> str | None:
    return session_data(client).get("_auth_user_id")


def session_keys_of(user) -> list[str]:
    """Every stored session that belongs to `user` (read from the session data itself, not from
    the UserSession index the code under test maintains)."""
    return [
        s.session_key
        for s in Session.objects.all()
        if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


def html_lang(response) -> str | None:
    match = re.search(r'<html lang="([^"]*)"', response.content.decode())
    return match.group(1) if match else None


def h1_text(response) -> str:
    match = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)
    return match.group(1).strip() if match else ""


def error_summary(response) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', response.content.decode(), re.S)
    return match.group(0) if match else ""


def template_names(response) -> list[str]:
    return [t.name for t in response.templates if t.name]


def assert_to_login(response):
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith(reverse("login")), response["Location"]


def fail_times(login_id, n, *, ip=IP, password=WRONG_PASSWORD):
    """`n` failed sign-ins, each from a fresh browser; returns the responses."""
    return [sign_in(Client(), login_id, password, ip=ip) for _ in range(n)]


def tombstone(user: User) -> None:
    """What deletion leaves of a user: the row, with no login ID (docs/rules.md)."""
    User.all_objects.filter(pk=user.pk).update(
        deleted_at=timezone.now(), login_id="", login_id_key=""
    )


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts password-hash operations (encode or verify) on every hasher the test settings
    list. A verify that calls encode internally counts once."""
    calls: list[str] = []
    depth = [0]
    for hasher in (MD5PasswordHasher, MiitelArgon2PasswordHasher, PBKDF2PasswordHasher):
        for name in ("encode", "verify"):
            original = getattr(hasher, name)

            def counting(self, *args, _original=original, _name=name, **kwargs):
                depth[0] += 1
                try:
                    if depth[0] == 1:
                        calls.append(f"{type(self).__name__}.{_name}")
                    return _original(self, *args, **kwargs)
                finally:
                    depth[0] -= 1

            monkeypatch.setattr(hasher, name, counting)
    return calls


@pytest.fixture
def admin_actor(admin_a):
    return Actor(user=admin_a, label=admin_a.login_id)


# --- 1. Sign-in, refusals, sign-out -------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_matches_login_id_case_insensitively_and_trimmed(client, org_a):
    user = AdminFactory(organization=org_a, login_id="Taro.Yamada@Example.com")

    response = sign_in(client, "  TARO.yamada@example.COM \t", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in_user_id(client) == str(user.pk)
    user.refresh_from_db()
    assert user.last_login is not None
    assert user.login_id == "Taro.Yamada@Example.com"  # stored as typed
    assert client.get(reverse("users:list")).status_code == 200


@pytest.mark.django_db
def test_every_refusal_looks_the_same_and_hashes_once(org_a, hash_calls):
    active = UserFactory(organization=org_a, login_id="active@a.example.com")
    inactive = UserFactory(organization=org_a, login_id="inactive@a.example.com", is_active=False)
    deleted = UserFactory(organization=org_a, login_id="deleted@a.example.com")
    tombstone(deleted)
    assert User.all_objects.get(pk=deleted.pk).deleted_at is not None

    attempts = {
        "wrong password": (active.login_id, WRONG_PASSWORD),
        "unknown login ID": ("nobody@a.example.com", PASSWORD),
        # The right password: even that must not tell the account apart.
        "deactivated user": (inactive.login_id, PASSWORD),
        "deleted user's old ID": ("deleted@a.example.com", PASSWORD),
    }
    seen = {}
    for index, (case, (login_id, password)) in enumerate(attempts.items()):
        hash_calls.clear()
        client = Client()
        response = sign_in(client, login_id, password, ip=f"10.0.1.{index + 1}")
        seen[case] = (
            response.status_code,
            template_names(response),
            dict(response.context["form"].errors),
            error_summary(response),
        )
        assert signed_in_user_id(client) is None, case
        assert len(hash_calls) == 1, (case, hash_calls)

    first = seen["wrong password"]
    assert first[0] == 200
    assert "registration/login.html" in first[1]
    assert first[2] == {"__all__": [REFUSAL]}
    assert REFUSAL in first[3]
    for case, observed in seen.items():
        assert observed == first, case


@pytest.mark.django_db
def test_get_logout_answers_405_and_keeps_the_session(client, admin_a):
    assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302
    key = session_key(client)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert session_key(client) == key
    assert signed_in_user_id(client) == str(admin_a.pk)
    assert client.get(reverse("users:list")).status_code == 200


@pytest.mark.django_db
def test_post_logout_signs_out_and_the_old_cookie_is_anonymous(client, admin_a):
    assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302
    old_key = session_key(client)
    assert old_key and Session.objects.filter(session_key=old_key).exists()

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not Session.objects.filter(session_key=old_key).exists()
    assert session_keys_of(admin_a) == []
    assert_to_login(client.get(reverse("users:list")))

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert_to_login(replay.get(reverse("users:list")))
    assert_to_login(replay.get(reverse("audit:list")))


# --- 2. Session rotation and the per-user session index ---------------------------------------


@pytest.mark.django_db
def test_session_key_rotates_at_sign_in_and_is_linked_to_the_user(client, admin_a):
    before = client.session  # an anonymous session that exists before sign-in
    before["probe"] = "pre-login"
    before.save()
    old_key = before.session_key
    assert Session.objects.filter(session_key=old_key).exists()

    assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302

    new_key = session_key(client)
    assert new_key and new_key != old_key
    assert not Session.objects.filter(session_key=old_key).exists()
    assert session_keys_of(admin_a) == [new_key]
    links = list(UserSession.objects.filter(user=admin_a))
    assert [link.session_id for link in links] == [new_key]

    client.post(reverse("logout"))

    assert not Session.objects.filter(session_key=new_key).exists()
    assert not UserSession.objects.filter(user=admin_a).exists()


# --- 3. Temporary passwords ---------------------------------------------------------------------


@pytest.fixture
def temp_admin(org_a):
    return AdminFactory(
        organization=org_a,
        login_id="temp.admin@a.example.com",
        locale="en",
        must_change_password=True,
    )


def _change_password(client, old, new1, new2=None):
    return client.post(
        reverse("password_change"),
        {
            "old_password": old,
            "new_password1": new1,
            "new_password2": new1 if new2 is None else new2,
        },
    )


@pytest.mark.django_db
def test_temporary_password_forces_the_change_page_on_every_console_url(client, org_a, temp_admin):
    assert sign_in(client, temp_admin.login_id, PASSWORD).status_code == 302
    users_before = User.all_objects.count()

    for url in CONSOLE_URLS:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("password_change"), url
    post = client.post(
        reverse("users:create"),
        {"login_id": "sneaky@a.example.com", "name": "Sneaky", "password": "Sn3aky#pass"},
    )
    assert post.status_code == 302
    assert post["Location"] == reverse("password_change")
    assert User.all_objects.count() == users_before

    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "registration/password_change.html" in template_names(page)
    assert page.context["forced"] is True


@pytest.mark.django_db
def test_temporary_password_user_can_still_sign_out(client, temp_admin):
    assert sign_in(client, temp_admin.login_id, PASSWORD).status_code == 302
    key = session_key(client)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not Session.objects.filter(session_key=key).exists()
    assert session_keys_of(temp_admin) == []


@pytest.mark.django_db
def test_changing_the_temporary_password_clears_the_flag_and_opens_the_console(client, temp_admin):
    assert sign_in(client, temp_admin.login_id, PASSWORD).status_code == 302

    response = _change_password(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    temp_admin.refresh_from_db()
    assert temp_admin.must_change_password is False
    assert temp_admin.check_password(NEW_PASSWORD)
    assert not temp_admin.check_password(PASSWORD)
    home = client.get(reverse("home"))
    assert home.status_code == 302
    assert home["Location"] == reverse("users:list")
    assert client.get(reverse("users:list")).status_code == 200
    # The session survived (its key rotated) and is still findable for this user.
    key = session_key(client)
    assert session_keys_of(temp_admin) == [key]
    assert UserSession.objects.filter(session_id=key, user=temp_admin).exists()
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PASSWORD_CHANGE, target=temp_admin
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("abcdefghijk", "Password cannot be letters only"),
        ("83920174655", "Password cannot be digits only"),
        ("Ab1!x", "Password must be at least 8 characters"),
        ("Kx9#vTq2 mRw", "Password contains characters that are not allowed"),
        (PASSWORD, "The new password must be different from the current one."),
    ],
    ids=["letters-only", "digits-only", "too-short", "space", "same-as-old"],
)
def test_new_password_must_follow_the_rule_and_differ(client, temp_admin, new_password, message):
    assert sign_in(client, temp_admin.login_id, PASSWORD).status_code == 302
    encoded_before = User.objects.get(pk=temp_admin.pk).password

    response = _change_password(client, PASSWORD, new_password)

    assert response.status_code == 200
    assert "registration/password_change.html" in template_names(response)
    assert message in response.content.decode()
    # Reported under the new password, where it was typed, not under its confirmation.
    form = response.context["form"]
    assert any(message in error for error in form.errors["new_password1"]), form.errors
    assert "new_password2" not in form.errors
    temp_admin.refresh_from_db()
    assert temp_admin.must_change_password is True
    assert temp_admin.password == encoded_before
    response = client.get(reverse("users:list"))
    assert response["Location"] == reverse("password_change")


@pytest.mark.django_db
def test_a_confirmation_that_differs_is_reported_under_the_confirmation(client, temp_admin):
    assert sign_in(client, temp_admin.login_id, PASSWORD).status_code == 302

    response = _change_password(client, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")

    form = response.context["form"]
    assert list(form.errors) == ["new_password2"]
    assert User.objects.get(pk=temp_admin.pk).must_change_password is True


@pytest.mark.django_db
def test_member_gets_403_page_after_changing_the_password(client, org_a):
    member = UserFactory(
        organization=org_a,
        login_id="new.member@a.example.com",
        locale="en",
        must_change_password=True,
    )
    assert sign_in(client, member.login_id, PASSWORD).status_code == 302
    assert client.get(reverse("users:list"))["Location"] == reverse("password_change")

    response = _change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    member.refresh_from_db()
    assert member.must_change_password is False

    for url in ("/users/", "/users/new/", "/audit/"):
        denied = client.get(url)
        assert denied.status_code == 403, url
        assert "errors/403.html" in template_names(denied), url
        assert html_lang(denied) == "en"
        assert h1_text(denied) == "Access denied"


@pytest.mark.django_db
def test_403_page_is_translated_for_a_japanese_member(client, org_a):
    member = UserFactory(organization=org_a, login_id="ja.member@a.example.com", locale="ja")
    assert sign_in(client, member.login_id, PASSWORD, language="en").status_code == 302

    denied = client.get(reverse("users:list"), HTTP_ACCEPT_LANGUAGE="en")

    assert denied.status_code == 403
    assert "errors/403.html" in template_names(denied)
    assert html_lang(denied) == "ja"
    heading = h1_text(denied)
    assert heading and heading != "Access denied"
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", heading), heading


# --- 4. An admin's reset or deactivation ends the target's sessions -----------------------------


def _signed_in_member_clients(member, n=2):
    clients = []
    for i in range(n):
        c = Client()
        assert sign_in(c, member.login_id, PASSWORD, ip=f"10.0.2.{i + 1}").status_code == 302
        assert c.get(reverse("users:list")).status_code == 403  # signed in (a member)
        clients.append(c)
    return clients


@pytest.mark.django_db
def test_admin_password_reset_makes_it_temporary_and_ends_the_targets_sessions(
    admin_a, member_a, admin_client_a, admin_actor
):
    member_clients = _signed_in_member_clients(member_a)
    assert len(session_keys_of(member_a)) == 2
    admin_keys = session_keys_of(admin_a)
    assert len(admin_keys) == 1

    update_user(actor=admin_actor, user=member_a, data={}, password=RESET_PASSWORD)

    member_a.refresh_from_db()
    assert member_a.must_change_password is True
    assert member_a.check_password(RESET_PASSWORD)
    assert session_keys_of(member_a) == []
    assert not UserSession.objects.filter(user=member_a).exists()
    assert session_keys_of(admin_a) == admin_keys  # nobody else is signed out
    for c in member_clients:
        assert_to_login(c.get(reverse("users:list")))
    assert admin_client_a.get(reverse("users:list")).status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PASSWORD_RESET, target=member_a
    ).exists()


@pytest.mark.django_db
def test_deactivation_ends_the_targets_sessions_and_blocks_sign_in(
    admin_a, member_a, admin_client_a, admin_actor
):
    member_clients = _signed_in_member_clients(member_a)
    admin_keys = session_keys_of(admin_a)

    assert set_active(actor=admin_actor, user=member_a, active=False) is True

    member_a.refresh_from_db()
    assert member_a.is_active is False
    assert session_keys_of(member_a) == []
    assert not UserSession.objects.filter(user=member_a).exists()
    assert session_keys_of(admin_a) == admin_keys
    for c in member_clients:
        assert_to_login(c.get(reverse("users:list")))
    again = Client()
    response = sign_in(again, member_a.login_id, PASSWORD)
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert signed_in_user_id(again) is None


# --- 5. Idle and absolute timeouts --------------------------------------------------------------


def test_timeout_settings_are_the_documented_values():
    assert settings.SESSION_IDLE_TIMEOUT_SECONDS == 30 * 60
    assert settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS == 12 * 3600


@pytest.mark.django_db
def test_activity_within_the_idle_window_keeps_the_session(client, admin_a):
    with time_machine.travel(T0, tick=False) as traveller:
        assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302
        # 10 + 3 x 29 minutes: well past 30 minutes since sign-in, never 30 idle.
        for minutes in (10, 29, 29, 29):
            traveller.shift(dt.timedelta(minutes=minutes))
            assert client.get(reverse("users:list")).status_code == 200, minutes
        assert signed_in_user_id(client) == str(admin_a.pk)


@pytest.mark.django_db
def test_31_minutes_idle_signs_out(client, admin_a):
    with time_machine.travel(T0, tick=False) as traveller:
        assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302
        key = session_key(client)
        traveller.shift(dt.timedelta(minutes=5))
        assert client.get(reverse("users:list")).status_code == 200

        traveller.shift(dt.timedelta(minutes=31))
        assert_to_login(client.get(reverse("users:list")))

        assert not Session.objects.filter(session_key=key).exists()
        assert session_keys_of(admin_a) == []
        assert_to_login(client.get(reverse("users:list")))


@pytest.mark.django_db
def test_absolute_timeout_signs_out_after_12_hours_despite_activity(client, admin_a):
    with time_machine.travel(T0, tick=False) as traveller:
        assert sign_in(client, admin_a.login_id, PASSWORD).status_code == 302
        key = session_key(client)
        for step in range(1, 37):  # every 20 minutes, up to exactly 12 hours
            traveller.shift(dt.timedelta(minutes=20))
            response = client.get(reverse("password_change"))
            assert response.status_code == 200, f"{step * 20} minutes after sign-in"

        traveller.shift(dt.timedelta(minutes=1))  # 12 h 1 min after sign-in, 1 min idle
        assert_to_login(client.get(reverse("password_change")))
        assert session_keys_of(admin_a) == []
        assert not Session.objects.filter(session_key=key).exists()


# --- 6. Lockout (django-axes) -------------------------------------------------------------------


@pytest.mark.django_db
def test_sixth_attempt_after_five_failures_is_locked_without_hashing(admin_a, hash_calls):
    with time_machine.travel(T0, tick=False):
        responses = fail_times(admin_a.login_id, 5)
        assert [r.status_code for r in responses[:4]] == [200] * 4
        assert len(hash_calls) == 5  # the counter sees every unlocked attempt
        attempts_before = list(AccessAttempt.objects.values_list("failures_since_start", flat=True))
        hash_calls.clear()

        client = Client()
        response = sign_in(client, admin_a.login_id, PASSWORD)

    assert response.status_code == 429
    assert "registration/login.html" in template_names(response)
    body = response.content.decode()
    assert "Too many failed sign-in attempts for this login ID" in body
    assert "Try again after 09:15" in body
    assert hash_calls == []
    assert signed_in_user_id(client) is None
    assert_to_login(client.get(reverse("users:list")))
    # The refused attempt does not extend the lock.
    assert list(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == (
        attempts_before
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOCKOUT).exists()


@pytest.mark.django_db
def test_lockout_message_names_the_time_the_lock_ends(admin_a):
    with time_machine.travel(T0, tick=False) as traveller:
        fail_times(admin_a.login_id, 5)  # the lock runs from 09:00 to 09:15
        traveller.shift(dt.timedelta(minutes=10))

        response = sign_in(Client(), admin_a.login_id, PASSWORD)
        assert response.status_code == 429
        assert "Try again after 09:15" in response.content.decode()

        traveller.shift(dt.timedelta(minutes=6))  # 09:16: the lock has ended, as announced
        assert sign_in(Client(), admin_a.login_id, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_other_login_id_from_the_same_ip_can_still_sign_in(admin_a, member_a):
    with time_machine.travel(T0, tick=False):
        fail_times(admin_a.login_id, 5, ip=IP)
        client = Client()

        response = sign_in(client, member_a.login_id, PASSWORD, ip=IP)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member_a.pk)


@pytest.mark.django_db
def test_another_users_sign_in_from_the_same_ip_does_not_lift_the_lock(admin_a, member_a):
    with time_machine.travel(T0, tick=False):
        fail_times(admin_a.login_id, 5, ip=IP)
        assert sign_in(Client(), member_a.login_id, PASSWORD, ip=IP).status_code == 302

        client = Client()
        response = sign_in(client, admin_a.login_id, PASSWORD, ip=IP)

    assert response.status_code == 429
    assert signed_in_user_id(client) is None
    assert AccessAttempt.objects.filter(username="admin@a.example.com").exists()


@pytest.mark.django_db
def test_another_users_sign_in_from_the_same_ip_does_not_reset_the_count(admin_a, member_a):
    with time_machine.travel(T0, tick=False):
        assert [r.status_code for r in fail_times(admin_a.login_id, 4, ip=IP)] == [200] * 4
        assert sign_in(Client(), member_a.login_id, PASSWORD, ip=IP).status_code == 302
        fail_times(admin_a.login_id, 1, ip=IP)  # the 5th failure for this login ID

        client = Client()
        response = sign_in(client, admin_a.login_id, PASSWORD, ip=IP)

    assert response.status_code == 429
    assert signed_in_user_id(client) is None


@pytest.mark.django_db
def test_lock_ends_after_the_cool_off(admin_a):
    with time_machine.travel(T0, tick=False) as traveller:
        fail_times(admin_a.login_id, 5)
        assert sign_in(Client(), admin_a.login_id, PASSWORD).status_code == 429

        traveller.shift(dt.timedelta(minutes=16))
        client = Client()
        response = sign_in(client, admin_a.login_id, PASSWORD)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(admin_a.pk)


@pytest.mark.django_db
def test_successful_sign_in_resets_the_failure_count(admin_a):
    with time_machine.travel(T0, tick=False):
        assert [r.status_code for r in fail_times(admin_a.login_id, 4)] == [200] * 4
        assert sign_in(Client(), admin_a.login_id, PASSWORD).status_code == 302
        assert not AccessAttempt.objects.filter(username="admin@a.example.com").exists()

        assert [r.status_code for r in fail_times(admin_a.login_id, 4)] == [200] * 4
        client = Client()
        response = sign_in(client, admin_a.login_id, PASSWORD)

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(admin_a.pk)


@pytest.mark.django_db
def test_login_ids_differing_in_case_or_spaces_share_one_counter(admin_a):
    variants = [
        "ADMIN@A.EXAMPLE.COM",
        "  admin@a.example.com",
        "Admin@A.Example.Com  ",
        "\tadmin@A.example.com",
        "aDmIn@a.ExAmPlE.cOm",
    ]
    with time_machine.travel(T0, tick=False):
        for variant in variants:
            sign_in(Client(), variant, WRONG_PASSWORD)
        response = sign_in(Client(), "admin@a.example.com", PASSWORD)

    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"admin@a.example.com"}


@pytest.mark.django_db
def test_failures_from_many_ips_still_lock_the_login_id(admin_a):
    with time_machine.travel(T0, tick=False):
        for i in range(5):
            sign_in(Client(), admin_a.login_id, WRONG_PASSWORD, ip=f"10.0.3.{i + 1}")
        response = sign_in(Client(), admin_a.login_id, PASSWORD, ip="10.0.3.99")

    assert response.status_code == 429


# --- 7. Audit -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_successful_sign_in_is_audited(client, org_a, admin_a):
    sign_in(client, admin_a.login_id, PASSWORD)

    events = list(AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN))
    assert len(events) == 1
    event = events[0]
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.target_id == admin_a.pk
    assert event.actor_id == admin_a.pk
    assert event.organization_id == org_a.pk
    assert event.ip_address == IP
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).exists()


@pytest.mark.django_db
def test_failed_sign_in_is_audited_as_a_failure(org_a, admin_a):
    sign_in(Client(), admin_a.login_id, WRONG_PASSWORD)
    sign_in(Client(), "nobody@a.example.com", WRONG_PASSWORD, ip=OTHER_IP)

    events = list(AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).order_by("id"))
    assert len(events) == 2
    known, unknown = events
    assert known.outcome == AuditEvent.Outcome.FAILURE
    assert known.target_id == admin_a.pk
    assert known.organization_id == org_a.pk
    assert known.actor_id is None
    assert known.ip_address == IP
    assert unknown.outcome == AuditEvent.Outcome.FAILURE
    assert unknown.target_id is None
    assert unknown.target_label == "nobody@a.example.com"
    assert unknown.ip_address == OTHER_IP
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()


@pytest.mark.django_db
def test_no_audit_row_or_log_line_contains_a_password(
    caplog, admin_a, member_a, admin_actor, temp_admin
):
    caplog.set_level(logging.DEBUG)
    with time_machine.travel(T0, tick=False):
        sign_in(Client(), admin_a.login_id, PASSWORD)  # success
        fail_times(member_a.login_id, 5)  # failures, then the lock
        sign_in(Client(), member_a.login_id, PASSWORD)  # locked attempt
        temp = Client()
        sign_in(temp, temp_admin.login_id, PASSWORD)
        assert _change_password(temp, PASSWORD, NEW_PASSWORD).status_code == 302
        update_user(actor=admin_actor, user=member_a, data={}, password=RESET_PASSWORD)

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"login", "login_failed", "lockout", "password_change", "password_reset"} <= actions
    secrets = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, RESET_PASSWORD]
    dumped = json.dumps(list(AuditEvent.objects.values()), default=str, ensure_ascii=False)
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        dumped += json.dumps(list(model.objects.values()), default=str, ensure_ascii=False)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in dumped, secret
        assert secret not in logged, secret


# --- 8. Language --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "lang", "password_label"), [("ja", "ja", "パスワード"), ("en", "en", "Password")]
)
def test_sign_in_page_follows_the_browser_language(client, accept, lang, password_label):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 200
    assert html_lang(response) == lang
    assert f'<label for="id_password">{password_label} ' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("locale", "browser"), [("en", "ja"), ("ja", "en")])
def test_signed_in_pages_use_the_users_own_locale(client, org_a, locale, browser):
    user = AdminFactory(organization=org_a, login_id=f"{locale}.admin@a.example.com", locale=locale)
    assert sign_in(client, user.login_id, PASSWORD, language=browser).status_code == 302

    response = client.get(reverse("users:list"), HTTP_ACCEPT_LANGUAGE=browser)

    assert response.status_code == 200
    assert html_lang(response) == locale


# --- 9. Odd input -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"username": "a" * 10_000, "password": PASSWORD},
        {"username": "a" * 9_988 + "@example.com", "password": PASSWORD},
        {"username": "admin@a.example.com\x00", "password": PASSWORD},
        {"username": "\x00", "password": "\x00"},
        {"username": "admin@a.example.com", "password": PASSWORD + "\x00"},
        {"username": "ユーザー@例え.jp", "password": PASSWORD},
        {"username": "admin@a.example.com", "password": "x" * 10_000},
        {"username": "admin@a.example.com"},
        {"password": PASSWORD},
        {"username": "", "password": ""},
        {"username": "   ", "password": PASSWORD},
        {},
    ],
    ids=[
        "10k-login-id",
        "10k-login-id-email",
        "nul-in-login-id",
        "nul-only",
        "nul-in-password",
        "non-ascii-login-id",
        "10k-password",
        "missing-password",
        "missing-login-id",
        "blank-both",
        "spaces-login-id",
        "nothing",
    ],
)
def test_odd_input_re_renders_the_form_with_an_error(client, admin_a, data):
    response = client.post(reverse("login"), data, REMOTE_ADDR=IP, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "registration/login.html" in template_names(response)
    assert response.context["form"].errors
    assert error_summary(response)
    assert signed_in_user_id(client) is None
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()
