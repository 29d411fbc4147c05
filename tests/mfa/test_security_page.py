"""The signed-in user's own security page: add and remove methods (the password first), the
recovery codes' count, new codes shown once. Each view: the happy path, the refusals, another
user's method (404, as a missing one); wrong methods and CSRF are walked by
tests/security/test_url_registry.py for every URL."""

import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from mfa import services
from mfa.models import RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.factories import PASSWORD
from tests.mfa.conftest import browser, code, passkey_options, post, secret_on_page
from tests.mfa.factories import (
    PasskeyFactory,
    TOTPDeviceFactory,
    recovery_codes_for,
    require_mfa,
)
from tests.mfa.softkey import SoftKey

pytestmark = pytest.mark.django_db

WRONG = "Not-my-passw0rd"


def shown_codes(response) -> list[str]:
    return re.findall(r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>", response.content.decode())


def test_the_security_page_lists_methods_and_the_codes_left(admin_client_a, admin_a):
    TOTPDeviceFactory(user=admin_a, name="Work phone")
    PasskeyFactory(user=admin_a, name="YubiKey 5")
    codes = recovery_codes_for(admin_a)
    services.recovery_code_use(user=admin_a, code=codes[0])

    body = admin_client_a.get(reverse("mfa:security")).content.decode()

    assert "Work phone" in body and "YubiKey 5" in body
    assert "9 unused recovery codes left." in body
    assert 'class="badge badge-active">On<' in body


def test_a_member_has_a_security_page_too(member_client_a):
    response = member_client_a.get(reverse("mfa:security"))
    assert response.status_code == 200
    assert 'class="badge badge-inactive">Off<' in response.content.decode()
    assert reverse("mfa:policy") not in response.content.decode()  # admins only


def test_adding_an_app_needs_the_password_and_the_current_code(admin_client_a, admin_a):
    secret = secret_on_page(admin_client_a.get(reverse("mfa:totp_add")))

    wrong_password = post(
        admin_client_a, "mfa:totp_add", {"name": "Phone", "code": code(secret), "password": WRONG}
    )
    wrong_code = post(
        admin_client_a, "mfa:totp_add", {"name": "Phone", "code": "000000", "password": PASSWORD}
    )

    assert "The password is incorrect." in wrong_password.content.decode()
    assert "The code does not match" in wrong_code.content.decode()
    assert not TOTPDevice.objects.exists()

    added = post(
        admin_client_a,
        "mfa:totp_add",
        {"name": "Phone", "code": code(secret), "password": PASSWORD},
    )

    assert added.status_code == 200 and len(shown_codes(added)) == 10  # the first method
    device = TOTPDevice.objects.get(user=admin_a)
    assert device.name == "Phone"
    assert AuditEvent.objects.filter(action="mfa_enroll", target=admin_a).count() == 1
    # A wrong password at the re-check counts toward the lockout, as at sign-in.
    assert AuditEvent.objects.filter(action="login_failed", detail="password re-check").exists()


def test_a_second_app_shows_no_new_codes_and_goes_back_to_the_page(admin_client_a, admin_a):
    TOTPDeviceFactory(user=admin_a)
    recovery_codes_for(admin_a)
    secret = secret_on_page(admin_client_a.get(reverse("mfa:totp_add")))

    response = post(
        admin_client_a,
        "mfa:totp_add",
        {"name": "Tablet", "code": code(secret), "password": PASSWORD},
    )

    assert response["Location"] == reverse("mfa:security")
    assert TOTPDevice.objects.filter(user=admin_a).count() == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Enter a name"), ("x" * 51, "up to 50 characters"), ("a\x00b", "control characters")],
)
def test_a_method_needs_a_sensible_name(admin_client_a, name, message):
    secret = secret_on_page(admin_client_a.get(reverse("mfa:totp_add")))
    response = post(
        admin_client_a, "mfa:totp_add", {"name": name, "code": code(secret), "password": PASSWORD}
    )
    assert message in response.content.decode()
    assert not TOTPDevice.objects.exists()


def test_the_password_re_check_is_refused_while_the_login_id_is_locked(admin_client_a, admin_a):
    secret = secret_on_page(admin_client_a.get(reverse("mfa:totp_add")))
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(5):
            post(admin_client_a, "mfa:recovery_regenerate", {"password": WRONG})

        response = post(
            admin_client_a,
            "mfa:totp_add",
            {"name": "Phone", "code": code(secret), "password": PASSWORD},
        )

    assert response.status_code == 200  # the page, not the sign-in page's lockout
    assert "Too many failed attempts" in response.content.decode()
    assert not TOTPDevice.objects.exists()


def test_adding_a_passkey(admin_client_a, admin_a):
    options = passkey_options(admin_client_a.get(reverse("mfa:passkey_add")))
    key = SoftKey(origin="http://testserver", rp_id="testserver")

    response = post(
        admin_client_a,
        "mfa:passkey_add",
        {"name": "MacBook", "password": PASSWORD, "credential": key.create(options)},
    )

    assert response.status_code == 200 and len(shown_codes(response)) == 10
    assert WebAuthnCredential.objects.get(user=admin_a).name == "MacBook"


def test_a_passkey_is_not_added_with_a_wrong_password_or_without_an_answer(admin_client_a):
    options = passkey_options(admin_client_a.get(reverse("mfa:passkey_add")))
    key = SoftKey(origin="http://testserver", rp_id="testserver")
    wrong = post(
        admin_client_a,
        "mfa:passkey_add",
        {"name": "MacBook", "password": WRONG, "credential": key.create(options)},
    )
    missing = post(admin_client_a, "mfa:passkey_add", {"name": "MacBook", "password": PASSWORD})

    assert "The password is incorrect." in wrong.content.decode()
    assert "Passkeys need JavaScript" in missing.content.decode()
    assert not WebAuthnCredential.objects.exists()


def test_the_passkey_page_says_what_it_needs_without_javascript(admin_client_a):
    body = admin_client_a.get(reverse("mfa:passkey_add")).content.decode()
    assert "Passkeys need JavaScript and a browser that supports them." in body
    assert re.search(r"<button[^>]*data-passkey-button hidden>", body)


def test_removing_a_method_needs_the_password(admin_client_a, admin_a):
    keep = TOTPDeviceFactory(user=admin_a, name="Keep")
    device = TOTPDeviceFactory(user=admin_a, name="Old phone")
    recovery_codes_for(admin_a)
    url = reverse("mfa:totp_remove", args=[device.pk])
    assert "Remove Old phone?" in admin_client_a.get(url).content.decode()

    refused = admin_client_a.post(url, {"password": WRONG})
    assert refused.status_code == 200 and TOTPDevice.objects.filter(pk=device.pk).exists()

    removed = admin_client_a.post(url, {"password": PASSWORD})

    assert removed["Location"] == reverse("mfa:security")
    assert list(TOTPDevice.objects.all()) == [keep]
    assert RecoveryCode.objects.filter(user=admin_a).count() == 10  # a method is left
    event = AuditEvent.objects.get(action="mfa_remove")
    assert (event.target, event.detail) == (admin_a, "totp: Old phone")


def test_removing_the_last_method_turns_mfa_off_and_drops_the_codes(admin_client_a, admin_a):
    passkey = PasskeyFactory(user=admin_a)
    recovery_codes_for(admin_a)

    admin_client_a.post(reverse("mfa:passkey_remove", args=[passkey.pk]), {"password": PASSWORD})

    assert not WebAuthnCredential.objects.exists()
    assert not RecoveryCode.objects.filter(user=admin_a).exists()
    assert sign_in_goes_home(admin_a)


def sign_in_goes_home(user) -> bool:
    client = browser()
    response = client.post(reverse("login"), {"username": user.login_id, "password": PASSWORD})
    return response["Location"] == reverse("home")


def test_the_last_method_stays_where_the_organization_requires_mfa(admin_client_a, admin_a):
    require_mfa(admin_a.organization)
    device = TOTPDeviceFactory(user=admin_a)
    url = reverse("mfa:totp_remove", args=[device.pk])
    assert "This is your last method" in admin_client_a.get(url).content.decode()

    response = admin_client_a.post(url, {"password": PASSWORD})

    assert response.status_code == 200
    assert "add another method before you remove this one" in response.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert not AuditEvent.objects.filter(action="mfa_remove").exists()
    # With a second method, the first can go.
    PasskeyFactory(user=admin_a)
    assert admin_client_a.post(url, {"password": PASSWORD})["Location"] == reverse("mfa:security")


def test_a_member_may_remove_their_last_method_where_only_admins_must_use_mfa(
    member_client_a, member_a
):
    require_mfa(member_a.organization)
    device = TOTPDeviceFactory(user=member_a)
    response = member_client_a.post(
        reverse("mfa:totp_remove", args=[device.pk]), {"password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa:security")
    assert not TOTPDevice.objects.exists()


def test_another_users_method_answers_404_like_a_missing_one(admin_client_a, member_a, admin_b):
    theirs = TOTPDeviceFactory(user=member_a)
    foreign = PasskeyFactory(user=admin_b)
    for url in (
        reverse("mfa:totp_remove", args=[theirs.pk]),
        reverse("mfa:passkey_remove", args=[foreign.pk]),
        reverse("mfa:totp_remove", args=[10**9]),
    ):
        assert admin_client_a.get(url).status_code == 404
        assert admin_client_a.post(url, {"password": PASSWORD}).status_code == 404
    assert TOTPDevice.objects.filter(pk=theirs.pk).exists()
    assert WebAuthnCredential.objects.filter(pk=foreign.pk).exists()


def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(admin_client_a, admin_a):
    TOTPDeviceFactory(user=admin_a)
    old = recovery_codes_for(admin_a)

    refused = post(admin_client_a, "mfa:recovery_regenerate", {"password": WRONG})
    assert "The password is incorrect." in refused.content.decode()

    response = post(admin_client_a, "mfa:recovery_regenerate", {"password": PASSWORD})

    new = shown_codes(response)
    assert len(new) == 10 and not set(new) & set(old)
    assert not services.recovery_code_use(user=admin_a, code=old[1]).ok
    assert services.recovery_code_use(user=admin_a, code=new[1]).ok
    assert response["Cache-Control"].count("no-store") == 1


def test_recovery_codes_without_a_method_are_refused(admin_client_a):
    response = post(admin_client_a, "mfa:recovery_regenerate", {"password": PASSWORD})
    assert "Add an authenticator app or a passkey first" in response.content.decode()
    assert not RecoveryCode.objects.exists()


def test_the_security_link_is_in_the_top_bar(admin_client_a):
    body = admin_client_a.get(reverse("users:list")).content.decode()
    assert f'href="{reverse("mfa:security")}"' in body


def test_opened_by_an_ip_address_the_passkey_page_says_passkeys_need_a_domain(admin_client_a):
    body = admin_client_a.get(reverse("mfa:passkey_add"), HTTP_HOST="127.0.0.1").content.decode()
    assert "Passkeys work only when this site is opened by its domain name" in body
    assert "data-passkey-button" not in body and 'data-passkey="create"' not in body
