"""What admins and operators do about other users' 2-step verification: reset it (methods and
recovery codes removed, sessions ended, audited), require it for every admin of the organization
(audited; admins without it signed out), see it in the User List and on the edit page; and the
operators' commands set_mfa_policy and reset_mfa. Deleting a user erases their methods too."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Actor
from mfa.models import OrganizationPolicy, RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.factories import AdminFactory, UserFactory
from tests.mfa.conftest import browser, code, post, sign_in, signed_in_id
from tests.mfa.factories import (
    PasskeyFactory,
    TOTPDeviceFactory,
    recovery_codes_for,
    require_mfa,
)
from tests.services import update_user, user_delete

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(org_a):
    """A member of A with an app, a passkey and recovery codes, signed in on a phone."""
    user = UserFactory(organization=org_a, login_id="target@a.example.com", name="Target")
    user.device = TOTPDeviceFactory(user=user)
    PasskeyFactory(user=user)
    recovery_codes_for(user)
    user.browser = browser()
    sign_in(user.browser, user.login_id)
    post(user.browser, "mfa:verify", {"code": code(user.device)})
    assert signed_in_id(user.browser) == str(user.pk)
    return user


def methods_of(user) -> tuple[int, int, int]:
    return (
        TOTPDevice.objects.filter(user=user).count(),
        WebAuthnCredential.objects.filter(user=user).count(),
        RecoveryCode.objects.filter(user=user).count(),
    )


# --- Reset by an admin --------------------------------------------------------------------------


def test_the_reset_page_says_what_goes_and_changes_nothing(admin_client_a, target):
    response = admin_client_a.get(reverse("mfa:reset", args=[target.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Reset 2-step verification of Target?" in body
    assert "1 authenticator app is removed." in body and "1 passkey is removed." in body
    assert "They are signed out everywhere now." in body
    assert methods_of(target) == (1, 1, 10)
    assert signed_in_id(target.browser) == str(target.pk)


def test_an_admin_resets_another_users_mfa_and_signs_them_out(admin_client_a, admin_a, target):
    response = admin_client_a.post(reverse("mfa:reset", args=[target.pk]))

    assert response["Location"] == reverse("users:edit", args=[target.pk])
    assert methods_of(target) == (0, 0, 0)
    assert target.browser.get(reverse("users:list"))["Location"].startswith(reverse("login"))
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_RESET)
    assert (event.actor, event.target, event.organization) == (
        admin_a,
        target,
        admin_a.organization,
    )
    assert event.detail == "totp=1, passkeys=1, recovery_codes=10, sessions=1"
    # The next sign-in is by password alone (the organization does not require MFA).
    client = browser()
    assert sign_in(client, target.login_id)["Location"] == reverse("home")


def test_after_a_reset_an_admin_where_mfa_is_required_enrols_again(admin_client_a, org_a):
    require_mfa(org_a)
    other = AdminFactory(organization=org_a, login_id="other@a.example.com")
    TOTPDeviceFactory(user=other)

    admin_client_a.post(reverse("mfa:reset", args=[other.pk]))

    assert sign_in(browser(), other.login_id)["Location"] == reverse("mfa:enrol")


def test_an_admin_cannot_reset_their_own_mfa_here(admin_client_a, admin_a):
    TOTPDeviceFactory(user=admin_a)
    url = reverse("mfa:reset", args=[admin_a.pk])

    page = admin_client_a.get(url)
    response = admin_client_a.post(url)

    assert "Use your security page" in page.content.decode()
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=admin_a).exists()
    assert not AuditEvent.objects.filter(action="mfa_reset").exists()


def test_resetting_a_user_without_mfa_changes_nothing(admin_client_a, member_a):
    response = admin_client_a.post(reverse("mfa:reset", args=[member_a.pk]), follow=True)
    assert "has no 2-step verification to reset" in response.content.decode()
    assert not AuditEvent.objects.filter(action="mfa_reset").exists()


def test_a_member_gets_403_and_another_organization_404(member_client_a, admin_client_b, target):
    url = reverse("mfa:reset", args=[target.pk])
    assert member_client_a.get(url).status_code == 403
    assert member_client_a.post(url).status_code == 403
    assert admin_client_b.get(url).status_code == 404
    assert admin_client_b.post(url).status_code == 404
    assert methods_of(target) == (1, 1, 10)
    assert signed_in_id(target.browser) == str(target.pk)


# --- The organization's policy ------------------------------------------------------------------


def test_an_admin_without_mfa_cannot_require_it(admin_client_a, org_a):
    response = post(admin_client_a, "mfa:policy", {"admins_must_use_mfa": "on"})

    assert response.status_code == 200
    assert "Set up 2-step verification for yourself first" in response.content.decode()
    assert not OrganizationPolicy.objects.filter(admins_must_use_mfa=True).exists()


def test_requiring_mfa_signs_out_the_admins_without_it_and_is_audited(
    admin_client_a, admin_a, org_a, org_b, member_a
):
    TOTPDeviceFactory(user=admin_a)
    lax = AdminFactory(organization=org_a, login_id="lax@a.example.com", name="Lax Admin")
    lax_browser, member_browser = (
        browser(),
        browser(),
    )
    lax_browser.force_login(lax)
    member_browser.force_login(member_a)
    other_org_admin = AdminFactory(organization=org_b, login_id="free@b.example.com")
    other_browser = browser()
    other_browser.force_login(other_org_admin)
    page = admin_client_a.get(reverse("mfa:policy"))
    assert "1 admin without 2-step verification" in page.content.decode()
    assert "Lax Admin" in page.content.decode()

    response = post(admin_client_a, "mfa:policy", {"admins_must_use_mfa": "on"})

    assert response["Location"] == reverse("mfa:policy")
    assert OrganizationPolicy.objects.get(organization=org_a).admins_must_use_mfa is True
    assert lax_browser.get("/users/")["Location"].startswith(reverse("login"))
    assert member_browser.get(reverse("mfa:security")).status_code == 200  # members unaffected
    assert other_browser.get("/users/").status_code == 200  # another organization unaffected
    assert admin_client_a.get("/users/").status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_REQUIRED_ON)
    assert (event.actor, event.organization, event.detail) == (
        admin_a,
        org_a,
        "signed out: lax@a.example.com",
    )
    assert sign_in(browser(), lax.login_id)["Location"] == reverse("mfa:enrol")

    post(admin_client_a, "mfa:policy", {})
    assert OrganizationPolicy.objects.get(organization=org_a).admins_must_use_mfa is False
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_REQUIRED_OFF).count() == 1
    assert sign_in(browser(), lax.login_id)["Location"] == reverse("home")


def test_saving_the_same_policy_again_records_nothing(admin_client_a):
    response = post(admin_client_a, "mfa:policy", {}, ip="10.0.0.9")
    assert response["Location"] == reverse("mfa:policy")
    assert not AuditEvent.objects.filter(action__startswith="mfa_required").exists()


def test_a_member_cannot_see_or_change_the_policy(member_client_a, org_a):
    assert member_client_a.get(reverse("mfa:policy")).status_code == 403
    assert post(member_client_a, "mfa:policy", {"admins_must_use_mfa": "on"}).status_code == 403
    assert not OrganizationPolicy.objects.exists()


def test_the_policy_of_one_organization_is_not_anothers(admin_client_b, admin_b, org_a, org_b):
    TOTPDeviceFactory(user=admin_b)
    post(admin_client_b, "mfa:policy", {"admins_must_use_mfa": "on"})
    assert OrganizationPolicy.objects.get(organization=org_b).admins_must_use_mfa
    assert not OrganizationPolicy.objects.filter(organization=org_a).exists()


# --- The User List and the edit page ------------------------------------------------------------


def mfa_cell(body: str, login_id: str) -> bool:
    row = next(r for r in body.split("<tr") if f">{login_id}<" in r)
    return "badge-mfa" in row


def test_the_user_list_shows_who_has_mfa_in_one_query(admin_client_a, admin_a, member_a, org_a):
    admin_client_a.get("/users/")
    with CaptureQueriesContext(connection) as without:
        before = admin_client_a.get("/users/").content.decode()
    TOTPDeviceFactory(user=admin_a)
    keyed = UserFactory(organization=org_a, login_id="keyed@a.example.com")
    PasskeyFactory(user=keyed)
    with CaptureQueriesContext(connection) as with_mfa:
        body = admin_client_a.get("/users/").content.decode()

    assert not mfa_cell(before, admin_a.login_id)
    assert mfa_cell(body, admin_a.login_id) and mfa_cell(body, "keyed@a.example.com")
    assert not mfa_cell(body, member_a.login_id)
    assert len(with_mfa) == len(without)


def test_the_edit_page_shows_the_state_and_the_reset_link(admin_client_a, admin_a, target):
    body = admin_client_a.get(reverse("users:edit", args=[target.pk])).content.decode()
    assert "Authenticator apps: 1, passkeys: 1" in body
    assert reverse("mfa:reset", args=[target.pk]) in body

    own = admin_client_a.get(reverse("users:edit", args=[admin_a.pk])).content.decode()
    assert "This user signs in with a password alone." in own
    assert reverse("mfa:reset", args=[admin_a.pk]) not in own


def test_deleting_a_user_erases_their_methods(admin_a, target):
    user_delete(actor=Actor(user=admin_a, label=admin_a.login_id), user=target)
    assert methods_of(target) == (0, 0, 0)


# --- Operators' commands ------------------------------------------------------------------------


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_set_mfa_policy_turns_the_requirement_on_and_off(org_a, admin_a):
    out, _ = run("set_mfa_policy", "--organization", "org-a", "--require-admin-mfa", "on")

    assert "is now required" in out and "signed out (no 2-step verification yet): admin@a" in out
    assert OrganizationPolicy.objects.get(organization=org_a).admins_must_use_mfa
    event = AuditEvent.objects.get(action="mfa_required_on")
    assert event.actor is None and event.actor_label.startswith("operator:set_mfa_policy")

    out, _ = run("set_mfa_policy", "--organization", "org-a", "--require-admin-mfa", "on", "--json")
    assert json.loads(out) == {
        "organization": "org-a",
        "admins_must_use_mfa": True,
        "changed": False,
        "signed_out": [],
    }
    out, _ = run("set_mfa_policy", "--organization", "org-a", "--require-admin-mfa", "off")
    assert "is now not required" in out
    assert not OrganizationPolicy.objects.get(organization=org_a).admins_must_use_mfa


def test_set_mfa_policy_refuses_unknown_organizations_and_values(org_a):
    with pytest.raises(CommandError, match="no organization with the slug"):
        run("set_mfa_policy", "--organization", "nope", "--require-admin-mfa", "on")
    with pytest.raises(CommandError):
        run("set_mfa_policy", "--organization", "org-a", "--require-admin-mfa", "maybe")
    assert not OrganizationPolicy.objects.exists()


def test_reset_mfa_command_for_an_admin_locked_out_of_their_only_device(org_a):
    require_mfa(org_a)
    admin = AdminFactory(organization=org_a, login_id="lost@a.example.com")
    TOTPDeviceFactory(user=admin)
    recovery_codes_for(admin)

    out, _ = run("reset_mfa", "--organization", "org-a", "--login-id", "LOST@a.example.com")

    assert "2-step verification of lost@a.example.com reset." in out
    assert "1 authenticator app(s), 0 passkey(s), 10 recovery code(s)" in out
    assert methods_of(admin) == (0, 0, 0)
    assert AuditEvent.objects.get(action="mfa_reset").actor_label.startswith("operator:reset_mfa")
    assert sign_in(browser(), admin.login_id)["Location"] == reverse("mfa:enrol")

    out, _ = run("reset_mfa", "--organization", "org-a", "--login-id", admin.login_id, "--json")
    assert json.loads(out) == {
        "login_id": admin.login_id,
        "reset": False,
        "removed": {"totp": 0, "passkeys": 0, "recovery_codes": 0},
    }


def test_reset_mfa_command_names_a_missing_user(org_a):
    with pytest.raises(CommandError, match=re.escape("login-id: no user “ghost@a.example.com”")):
        run("reset_mfa", "--organization", "org-a", "--login-id", "ghost@a.example.com")


def test_a_member_made_admin_where_mfa_is_required_is_signed_out_to_enrol(admin_a, member_a, org_a):
    require_mfa(org_a)
    phone = browser()
    phone.force_login(member_a)
    actor = Actor(user=admin_a, label=admin_a.login_id)
    data = {"role": User.Role.ADMIN}

    update_user(actor=actor, user=member_a, data=data)

    assert phone.get(reverse("mfa:security"))["Location"].startswith(reverse("login"))
    assert sign_in(browser(), member_a.login_id)["Location"] == reverse("mfa:enrol")


def test_a_member_with_a_method_made_admin_stays_signed_in(admin_a, member_a, org_a):
    require_mfa(org_a)
    TOTPDeviceFactory(user=member_a)
    phone = browser()
    phone.force_login(member_a)

    update_user(
        actor=Actor(user=admin_a, label=admin_a.login_id),
        user=member_a,
        data={"role": User.Role.ADMIN},
    )

    assert phone.get(reverse("mfa:security")).status_code == 200
