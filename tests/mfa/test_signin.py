"""Sign-in with a second factor (docs/security.md): the password first, then the
code, passkey or recovery code on its own page before the session counts as signed in; the key
rotates after the second factor; failures count toward the same lockout as passwords; an admin
who must use MFA and has none is taken to enrolment and reaches nothing else.

django-axes is enabled (settings_test keeps it on); its counters live in the database."""

import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from mfa import flow
from mfa.models import RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.factories import AdminFactory
from tests.mfa.conftest import (
    browser,
    code,
    passkey_options,
    post,
    secret_on_page,
    session_key,
    sign_in,
    signed_in_id,
    stored_session,
)
from tests.mfa.factories import PasskeyFactory, TOTPDeviceFactory, recovery_codes_for, require_mfa

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "Wr0ng-Secret#417"


def failures(login_id: str) -> int:
    return sum(
        AccessAttempt.objects.filter(username=login_id.lower()).values_list(
            "failures_since_start", flat=True
        )
    )


def h1(response) -> str:
    match = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)
    return match.group(1).strip() if match else ""


# --- Without a factor nothing changes -----------------------------------------------------------


def test_a_user_without_a_factor_signs_in_with_the_password_alone(client, admin_a):
    response = sign_in(client, admin_a.login_id)

    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in_id(client) == str(admin_a.pk)
    assert stored_session(client)[flow.METHOD_KEY] == "password"
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN)
    assert (event.target, event.detail) == (admin_a, "")


def test_a_member_without_a_factor_is_not_asked_even_where_admins_must_use_mfa(client, member_a):
    require_mfa(member_a.organization)
    response = sign_in(client, member_a.login_id)
    assert response["Location"] == reverse("home")
    assert signed_in_id(client) == str(member_a.pk)


# --- The second step ----------------------------------------------------------------------------


def test_with_an_app_the_password_leads_to_the_code_page_and_signs_nobody_in(client, totp_admin):
    before = session_key(client)

    response = sign_in(client, totp_admin.login_id)

    assert response.status_code == 302 and response["Location"] == reverse("mfa:verify")
    assert signed_in_id(client) is None
    assert stored_session(client)[flow.PENDING_KEY]["user"] == totp_admin.pk
    assert session_key(client) != before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()
    page = client.get(reverse("mfa:verify"))
    assert page.status_code == 200 and h1(page) == "2-step verification"
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert "Use a recovery code" in page.content.decode()


def test_the_right_code_signs_in_rotates_the_session_and_is_audited(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    pending_key = session_key(client)

    response = post(client, "mfa:verify", {"code": code(totp_admin.device)})

    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in_id(client) == str(totp_admin.pk)
    assert session_key(client) not in (None, pending_key)
    session = stored_session(client)
    assert flow.PENDING_KEY not in session and session[flow.METHOD_KEY] == "totp"
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN)
    assert (event.target, event.detail, event.ip_address) == (
        totp_admin,
        "2-step: totp",
        "10.0.0.1",
    )
    assert client.get(reverse("users:list")).status_code == 200
    totp_admin.refresh_from_db()
    assert totp_admin.last_login is not None
    assert totp_admin.session_links.get().session_id == session_key(client)


def test_the_page_asked_for_before_sign_in_is_where_the_code_leads(client, totp_admin):
    sign_in(client, totp_admin.login_id, next="/audit/")
    response = post(client, "mfa:verify", {"code": code(totp_admin.device)})
    assert response["Location"] == "/audit/"


def test_a_wrong_code_is_refused_audited_and_counted(client, totp_admin):
    sign_in(client, totp_admin.login_id)

    response = post(client, "mfa:verify", {"code": code(totp_admin.device, steps=5)})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert signed_in_id(client) is None
    assert failures(totp_admin.login_id) == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_FAILED)
    assert (event.outcome, event.target, event.organization) == (
        "failure",
        totp_admin,
        totp_admin.organization,
    )
    assert event.detail == "totp: wrong code"


def test_a_code_used_once_cannot_sign_in_again(totp_admin):
    first, second = browser(), browser()
    sign_in(first, totp_admin.login_id)
    sign_in(second, totp_admin.login_id)
    now = code(totp_admin.device)
    assert post(first, "mfa:verify", {"code": now}).status_code == 302

    replay = post(second, "mfa:verify", {"code": now})

    assert replay.status_code == 200 and signed_in_id(second) is None
    assert "That code was already used" in replay.content.decode()
    assert failures(totp_admin.login_id) == 1


def test_a_code_from_an_expired_step_is_refused(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    response = post(client, "mfa:verify", {"code": code(totp_admin.device, steps=-3)})
    assert "That code is not right" in response.content.decode()
    assert signed_in_id(client) is None


def test_a_code_that_is_not_six_digits_is_a_form_error_not_a_guess(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    response = post(client, "mfa:verify", {"code": "12ab"})
    assert "The code is the 6 digits your authenticator app shows." in response.content.decode()
    assert failures(totp_admin.login_id) == 0


# --- The lockout --------------------------------------------------------------------------------


def test_five_wrong_codes_lock_the_login_id_and_end_the_pending_sign_in(client, totp_admin):
    with time_machine.travel(timezone.now(), tick=False):
        sign_in(client, totp_admin.login_id)
        for _ in range(4):
            assert post(client, "mfa:verify", {"code": "000000"}).status_code == 200

        fifth = post(client, "mfa:verify", {"code": "000000"})

        assert fifth.status_code == 429
        assert "Too many failed sign-in attempts" in fifth.content.decode()
        assert flow.PENDING_KEY not in stored_session(client)
        # Locked: even the right code, and the right password, are refused now.
        assert post(client, "mfa:verify", {"code": code(totp_admin.device)})["Location"] == (
            reverse("login")
        )
        again = sign_in(browser(), totp_admin.login_id)
        assert again.status_code == 429
        assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_FAILED).count() == 5


def test_wrong_passwords_and_wrong_codes_share_one_count(totp_admin):
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(3):
            sign_in(browser(), totp_admin.login_id, WRONG_PASSWORD)
        client = browser()
        assert sign_in(client, totp_admin.login_id)["Location"] == reverse("mfa:verify")
        assert post(client, "mfa:verify", {"code": "000000"}).status_code == 200
        assert failures(totp_admin.login_id) == 4

        locked = post(client, "mfa:verify", {"code": "000001"})

        assert locked.status_code == 429


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(totp_admin):
    """Otherwise whoever knows the password could guess codes for ever, four at a time."""
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(2):
            client = browser()
            sign_in(client, totp_admin.login_id)
            post(client, "mfa:verify", {"code": "000000"})
            post(client, "mfa:verify", {"code": "000001"})
        assert failures(totp_admin.login_id) == 4
        client = browser()
        assert sign_in(client, totp_admin.login_id).status_code == 302
        assert post(client, "mfa:verify", {"code": "000002"}).status_code == 429


def test_the_right_code_clears_the_count(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    post(client, "mfa:verify", {"code": "000000"})
    assert failures(totp_admin.login_id) == 1
    post(client, "mfa:verify", {"code": code(totp_admin.device)})
    assert failures(totp_admin.login_id) == 0


def test_a_locked_login_id_cannot_open_the_code_page(client, totp_admin):
    with time_machine.travel(timezone.now(), tick=False):
        sign_in(client, totp_admin.login_id)
        for _ in range(5):
            sign_in(browser(), totp_admin.login_id, WRONG_PASSWORD)

        page = client.get(reverse("mfa:verify"))

        assert page.status_code == 429
        assert flow.PENDING_KEY not in stored_session(client)


# --- The pending state --------------------------------------------------------------------------


def test_the_pending_sign_in_expires(client, totp_admin, settings):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        sign_in(client, totp_admin.login_id)
        traveller.shift(dt.timedelta(seconds=settings.MFA_PENDING_TIMEOUT_SECONDS + 1))

        response = post(client, "mfa:verify", {"code": code(totp_admin.device)})

        assert response["Location"] == reverse("login")
        assert signed_in_id(client) is None
        # Expired, the gate lets the console answer as to anyone anonymous.
        assert client.get("/users/")["Location"].startswith(reverse("login"))


def test_a_user_deactivated_between_the_steps_cannot_finish(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    User.objects.filter(pk=totp_admin.pk).update(is_active=False)

    response = post(client, "mfa:verify", {"code": code(totp_admin.device)})

    assert response["Location"] == reverse("login") and signed_in_id(client) is None


def test_methods_reset_between_the_steps_send_the_user_back_to_the_password(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    TOTPDevice.objects.all().delete()

    response = client.get(reverse("mfa:verify"))

    assert response["Location"] == reverse("login") and signed_in_id(client) is None
    assert flow.PENDING_KEY not in stored_session(client)


def test_the_sign_in_page_and_sign_out_stay_reachable_mid_sign_in(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert flow.PENDING_KEY not in stored_session(client)
    assert client.get(reverse("mfa:verify"))["Location"] == reverse("login")


# --- Recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once(totp_admin):
    codes = recovery_codes_for(totp_admin)
    client = browser()
    sign_in(client, totp_admin.login_id)

    response = post(client, "mfa:verify_recovery", {"code": codes[0]})

    assert response.status_code == 302 and signed_in_id(client) == str(totp_admin.pk)
    assert stored_session(client)[flow.METHOD_KEY] == "recovery_code"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_RECOVERY_USED).count() == 1
    follow = client.get(response["Location"], follow=True)
    assert "9 codes are left" in follow.content.decode()

    again = browser()
    sign_in(again, totp_admin.login_id)
    refused = post(again, "mfa:verify_recovery", {"code": codes[0]})
    assert refused.status_code == 200 and signed_in_id(again) is None
    assert "already been used" in refused.content.decode()
    assert failures(totp_admin.login_id) == 1


def test_wrong_recovery_codes_count_toward_the_lockout(client, totp_admin):
    recovery_codes_for(totp_admin)
    with time_machine.travel(timezone.now(), tick=False):
        sign_in(client, totp_admin.login_id)
        statuses = [
            post(client, "mfa:verify_recovery", {"code": "aaaaa-aaaaa"}).status_code
            for _ in range(5)
        ]
    assert statuses == [200, 200, 200, 200, 429]


# --- Passkeys -----------------------------------------------------------------------------------


def test_a_passkey_signs_in(passkey_admin):
    client = browser()
    sign_in(client, passkey_admin.login_id)
    page = client.get(reverse("mfa:verify"))
    assert "Use your passkey" in page.content.decode()
    assert 'name="code"' not in page.content.decode()  # no app: no code field
    answer = passkey_admin.passkey.softkey.get(passkey_options(page))

    response = post(client, "mfa:verify_passkey", {"credential": answer})

    assert response.status_code == 302 and signed_in_id(client) == str(passkey_admin.pk)
    assert stored_session(client)[flow.METHOD_KEY] == "passkey"
    assert WebAuthnCredential.objects.get().sign_count == 1


def test_a_passkey_answer_is_good_for_one_challenge_only(passkey_admin):
    client = browser()
    sign_in(client, passkey_admin.login_id)
    answer = passkey_admin.passkey.softkey.get(passkey_options(client.get(reverse("mfa:verify"))))
    client.get(reverse("mfa:verify"))  # a new page, a new challenge

    response = post(client, "mfa:verify_passkey", {"credential": answer})

    assert response.status_code == 200 and signed_in_id(client) is None
    assert "The passkey was not accepted" in response.content.decode()
    assert failures(passkey_admin.login_id) == 1
    assert "challenge" in AuditEvent.objects.get(action="mfa_failed").detail


def test_a_passkey_answer_from_another_origin_is_refused_and_counted(passkey_admin):
    client = browser()
    sign_in(client, passkey_admin.login_id)
    options = passkey_options(client.get(reverse("mfa:verify")))
    answer = passkey_admin.passkey.softkey.get(options, origin="https://phish.example")

    response = post(client, "mfa:verify_passkey", {"credential": answer})

    assert signed_in_id(client) is None and response.status_code == 200
    assert failures(passkey_admin.login_id) == 1
    assert "phish.example" in AuditEvent.objects.get(action="mfa_failed").detail


def test_a_post_without_a_passkey_answer_explains_and_is_not_a_guess(passkey_admin):
    client = browser()
    sign_in(client, passkey_admin.login_id)
    response = post(client, "mfa:verify_passkey", {})
    assert "Passkeys need JavaScript" in response.content.decode()
    assert failures(passkey_admin.login_id) == 0


def test_with_an_app_and_a_passkey_both_are_offered(client, admin_a):
    TOTPDeviceFactory(user=admin_a)
    PasskeyFactory(user=admin_a)
    sign_in(client, admin_a.login_id)
    body = client.get(reverse("mfa:verify")).content.decode()
    assert 'name="code"' in body and "Or use a passkey" in body


# --- Enrolment required by the organization -----------------------------------------------------


@pytest.fixture
def policy_a(org_a):
    return require_mfa(org_a)


def test_an_admin_without_a_method_is_taken_to_enrolment_and_reaches_nothing_else(
    client, admin_a, policy_a
):
    response = sign_in(client, admin_a.login_id)

    assert response["Location"] == reverse("mfa:enrol")
    assert signed_in_id(client) is None
    for url in ("/", "/users/", "/audit/", "/users/export/", reverse("mfa:security")):
        assert client.get(url)["Location"] == reverse("mfa:verify"), url
    # The code page itself sends them on to enrolment.
    assert client.get(reverse("mfa:verify"))["Location"] == reverse("mfa:enrol")
    page = client.get(reverse("mfa:enrol"))
    assert page.status_code == 200 and h1(page) == "Set up 2-step verification"
    assert "requires 2-step verification for admins" in page.content.decode()


def test_enrolling_an_app_signs_in_and_shows_the_recovery_codes_once(client, admin_a, policy_a):
    sign_in(client, admin_a.login_id)
    page = client.get(reverse("mfa:enrol"))
    secret = secret_on_page(page)
    assert 'src="data:image/svg+xml' in page.content.decode()
    assert secret_on_page(client.get(reverse("mfa:enrol"))) == secret  # a reload keeps the key
    pending_key = session_key(client)

    response = post(client, "mfa:enrol", {"name": "My phone", "code": code(secret)})

    assert response.status_code == 200
    assert signed_in_id(client) == str(admin_a.pk) and session_key(client) != pending_key
    shown = re.findall(
        r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>", response.content.decode()
    )
    assert len(shown) == 10
    assert RecoveryCode.objects.filter(user=admin_a).count() == 10
    assert TOTPDevice.objects.get(user=admin_a).name == "My phone"
    assert AuditEvent.objects.filter(action="mfa_enroll", target=admin_a).count() == 1
    assert client.get(reverse("users:list")).status_code == 200
    # Never shown again, and never stored in clear.
    assert shown[0] not in client.get(reverse("mfa:security")).content.decode()
    assert not RecoveryCode.objects.filter(code_hash__contains=shown[0][:5]).exists()


def test_a_wrong_code_at_enrolment_saves_nothing(client, admin_a, policy_a):
    sign_in(client, admin_a.login_id)
    client.get(reverse("mfa:enrol"))

    response = post(client, "mfa:enrol", {"name": "Phone", "code": "000000"})

    assert response.status_code == 200 and "The code does not match" in response.content.decode()
    assert not TOTPDevice.objects.exists() and signed_in_id(client) is None


def test_enrolling_a_passkey_signs_in(client, admin_a, policy_a):
    from tests.mfa.softkey import SoftKey

    sign_in(client, admin_a.login_id)
    options = passkey_options(client.get(reverse("mfa:enrol")))
    key = SoftKey(origin="http://testserver", rp_id="testserver")

    response = post(
        client, "mfa:enrol_passkey", {"name": "Laptop", "credential": key.create(options)}
    )

    assert response.status_code == 200 and signed_in_id(client) == str(admin_a.pk)
    assert WebAuthnCredential.objects.get(user=admin_a).name == "Laptop"
    assert stored_session(client)[flow.METHOD_KEY] == "passkey"


def test_an_admin_with_a_method_is_asked_for_it_not_enrolled(client, totp_admin, policy_a):
    assert sign_in(client, totp_admin.login_id)["Location"] == reverse("mfa:verify")
    assert client.get(reverse("mfa:enrol"))["Location"] == reverse("mfa:verify")


def test_a_user_with_a_method_cannot_use_enrolment_to_skip_it(client, totp_admin):
    sign_in(client, totp_admin.login_id)
    response = post(client, "mfa:enrol", {"name": "Mine", "code": "123456"})
    assert response["Location"] == reverse("mfa:verify")
    assert TOTPDevice.objects.count() == 1 and signed_in_id(client) is None


def test_a_temporary_password_is_changed_after_the_second_factor(client, org_a, policy_a):
    admin = AdminFactory(organization=org_a, login_id="temp@a.example.com")
    User.objects.filter(pk=admin.pk).update(must_change_password=True)
    device = TOTPDeviceFactory(user=admin)
    assert sign_in(client, admin.login_id)["Location"] == reverse("mfa:verify")

    assert post(client, "mfa:verify", {"code": code(device)}).status_code == 302

    assert client.get("/users/")["Location"] == reverse("password_change")
    assert client.get(reverse("password_change")).status_code == 200


def test_a_member_with_a_method_is_asked_for_it(client, member_a):
    TOTPDeviceFactory(user=member_a)
    assert sign_in(client, member_a.login_id)["Location"] == reverse("mfa:verify")
    assert User.objects.get(pk=member_a.pk).last_login is None


def test_the_sign_in_step_pages_run_only_scripts_with_the_csp_nonce(client, passkey_admin, org_a):
    from tests.security.test_headers_and_csp import Markup, nonce_of

    require_mfa(org_a)
    enrolling = AdminFactory(organization=org_a, login_id="new@a.example.com", locale="en")
    sign_in(client, passkey_admin.login_id)
    other = browser()
    sign_in(other, enrolling.login_id)
    for who, url in (
        (client, reverse("mfa:verify")),
        (client, reverse("mfa:verify_recovery")),
        (other, reverse("mfa:enrol")),
    ):
        response = who.get(url)
        assert response.status_code == 200, url
        markup = Markup(response.content.decode())
        assert markup.handlers == [] and markup.styles == [], url
        assert markup.scripts and all(s.get("nonce") == nonce_of(response) for s in markup.scripts)
        assert "no-store" in response["Cache-Control"], url
