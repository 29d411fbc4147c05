"""The admins' Single sign-on page, require SSO with break-glass admins, the password path under
it, the SP metadata, and the operator command (docs/sso.md)."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from mfa.models import TOTPDevice
from sso.models import SsoConfig
from tests.factories import PASSWORD, AdminFactory, UserFactory
from tests.mfa.factories import TOTPDeviceFactory

from .conftest import Trip, answer, connect, signed, sp_of, start
from .idp import TestIdp

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("sso:settings")
OPTIONS_URL = reverse("sso:options")


def options(**values):
    data = {"match_by": "name_id"}
    data.update({k: v for k, v in values.items() if v is not None})
    return data


# --- Metadata -----------------------------------------------------------------------------------


def test_an_admin_pastes_the_metadata_and_sees_the_certificate(admin_client_a, org_a, idp):
    response = admin_client_a.post(SETTINGS_URL, {"metadata": idp.metadata_xml})

    assert response.status_code == 302
    config = SsoConfig.objects.get(organization=org_a)
    assert config.idp_entity_id == idp.entity_id
    assert config.sso_url == idp.sso_url
    assert len(config.certificates) == 1 and not config.enabled
    page = admin_client_a.get(SETTINGS_URL).content.decode()
    assert "Test IdP idp" in page and idp.entity_id in page
    event = AuditEvent.objects.get(action=AuditEvent.Action.SSO_SETTINGS)
    assert event.changes["idp_entity_id"] == [None, idp.entity_id]


def test_an_admin_uploads_the_metadata_file(admin_client_a, org_a, idp):
    upload = SimpleUploadedFile("idp.xml", idp.metadata_xml.encode(), "application/xml")
    assert admin_client_a.post(SETTINGS_URL, {"metadata_file": upload}).status_code == 302
    assert SsoConfig.objects.get(organization=org_a).idp_entity_id == idp.entity_id


@pytest.mark.parametrize(
    "xml",
    [
        "not xml at all",
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>',
        TestIdp().metadata_xml.replace("HTTP-Redirect", "HTTP-POST"),
    ],
)
def test_bad_metadata_is_refused_with_a_message(admin_client_a, org_a, xml):
    response = admin_client_a.post(SETTINGS_URL, {"metadata": xml})
    assert response.status_code == 200
    assert response.context["metadata_form"].non_field_errors()
    assert not SsoConfig.objects.filter(organization=org_a).exists()


@pytest.mark.parametrize(("locale", "text"), [("en", "Expires within 30 days"), ("ja", "30日以内")])
def test_a_certificate_expiring_within_30_days_is_warned_about(
    admin_client_a, admin_a, org_a, locale, text
):
    admin_a.locale = locale
    admin_a.save(update_fields=["locale"])
    connect(org_a, TestIdp(signer="expiring-soon", days=10))
    page = admin_client_a.get(SETTINGS_URL).content.decode()
    assert text in page


def test_the_sp_metadata_names_the_organizations_entity_id_and_acs(client, org_a):
    response = client.get(reverse("sso:metadata", kwargs={"slug": "org-a"}))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'entityID="http://testserver/sso/org-a/metadata/"' in body
    assert 'Location="http://testserver/sso/org-a/acs/"' in body
    assert client.get(reverse("sso:metadata", kwargs={"slug": "nowhere"})).status_code == 404


def test_a_member_gets_403_and_another_organization_sees_its_own(
    member_client_a, admin_client_b, sso_a, idp
):
    assert member_client_a.get(SETTINGS_URL).status_code == 403
    assert member_client_a.post(OPTIONS_URL, options(enabled="on")).status_code == 403
    page = admin_client_b.get(SETTINGS_URL).content.decode()
    assert idp.entity_id not in page and "/sso/org-b/acs/" in page


def test_wrong_methods_answer_405(admin_client_a):
    assert admin_client_a.get(OPTIONS_URL).status_code == 405
    assert admin_client_a.get(reverse("sso:test")).status_code == 405
    assert admin_client_a.get(reverse("sso:acs", kwargs={"slug": "org-a"})).status_code == 405


# --- Test sign-in, then on ----------------------------------------------------------------------


def test_sso_cannot_be_turned_on_before_a_test_sign_in(admin_client_a, org_a, idp):
    connect(org_a, idp, enabled=False, tested_metadata_sha256="")
    response = admin_client_a.post(OPTIONS_URL, options(enabled="on"))
    assert response.status_code == 200
    assert "enabled" in response.context["options_form"].errors
    assert not SsoConfig.objects.get(organization=org_a).enabled


def test_the_test_sign_in_round_trip_then_turning_sso_on(admin_client_a, admin_a, org_a, idp):
    connect(org_a, idp, enabled=False, tested_metadata_sha256="")
    page = admin_client_a.post(reverse("sso:test"))
    assert page.status_code == 200

    sp_entity_id, acs_url = sp_of("org-a")
    trip = Trip(admin_client_a, idp.request_id(page.context["location"]), sp_entity_id, acs_url)

    back = answer(trip, signed(idp, trip, admin_a.login_id))

    assert back.status_code == 302 and back["Location"] == SETTINGS_URL
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SSO_TEST).count() == 1
    turned_on = admin_client_a.post(OPTIONS_URL, options(enabled="on"))
    assert turned_on.status_code == 302
    assert SsoConfig.objects.get(organization=org_a).enabled


def test_a_test_sign_in_as_someone_else_does_not_count(admin_client_a, member_a, org_a, idp):
    connect(org_a, idp, enabled=False, tested_metadata_sha256="")
    page = admin_client_a.post(reverse("sso:test"))

    sp_entity_id, acs_url = sp_of("org-a")
    trip = Trip(admin_client_a, idp.request_id(page.context["location"]), sp_entity_id, acs_url)

    assert answer(trip, signed(idp, trip, member_a.login_id)).status_code == 403
    assert SsoConfig.objects.get(organization=org_a).tested_metadata_sha256 == ""


# --- Require SSO and break-glass admins -----------------------------------------------------------


def test_require_sso_needs_a_break_glass_admin_with_mfa(admin_client_a, admin_a, sso_a):
    refused = admin_client_a.post(
        OPTIONS_URL, options(enabled="on", require_sso="on", break_glass=[admin_a.pk])
    )
    assert refused.status_code == 200
    assert "break_glass" in refused.context["options_form"].errors

    TOTPDeviceFactory(user=admin_a)
    accepted = admin_client_a.post(
        OPTIONS_URL, options(enabled="on", require_sso="on", break_glass=[admin_a.pk])
    )
    assert accepted.status_code == 302
    config = SsoConfig.objects.get(pk=sso_a.pk)
    assert config.require_sso and list(config.break_glass.all()) == [admin_a]


def test_break_glass_admins_are_only_this_organizations_admins(
    admin_client_a, admin_a, member_a, admin_b, sso_a
):
    TOTPDeviceFactory(user=admin_a)
    response = admin_client_a.post(
        OPTIONS_URL,
        options(enabled="on", require_sso="on", break_glass=[admin_a.pk, admin_b.pk]),
    )
    assert response.status_code == 200  # admin B is not a choice
    assert list(SsoConfig.objects.get(pk=sso_a.pk).break_glass.all()) == []


@pytest.fixture
def required(sso_a, admin_a):
    TOTPDeviceFactory(user=admin_a)
    sso_a.require_sso = True
    sso_a.save()
    sso_a.break_glass.set([admin_a])
    return sso_a


def test_password_sign_in_is_refused_under_require_sso(client, required, member_a, org_a):
    other_admin = AdminFactory(organization=org_a, login_id="admin2@a.example.com")
    for user in (member_a, other_admin):
        response = client.post(reverse("login"), {"username": user.login_id, "password": PASSWORD})
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
        assert "「SSO でログイン」を使用してください" in response.content.decode()
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.LOGIN_FAILED, detail="sso required"
        ).count()
        == 2
    )


def test_a_break_glass_admin_keeps_password_and_second_factor(client, required, admin_a):
    response = client.post(reverse("login"), {"username": admin_a.login_id, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa:verify")


def test_a_break_glass_admin_without_mfa_is_refused(client, required, admin_a):
    TOTPDevice.objects.filter(user=admin_a).delete()
    response = client.post(reverse("login"), {"username": admin_a.login_id, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_sso_still_signs_in_under_require_sso(required, idp, member_a):
    trip = start(idp, login_id=member_a.login_id)
    assert answer(trip, signed(idp, trip, member_a.login_id)).status_code == 302


def test_the_user_form_says_password_sign_in_is_off(admin_client_a, required, member_a):
    page = admin_client_a.get(reverse("users:edit", kwargs={"user_id": member_a.pk}))
    assert "このユーザーはパスワードでログインできません" in page.content.decode()


# --- The operator command -------------------------------------------------------------------------


def test_the_command_sets_shows_and_turns_off(org_a, idp, tmp_path, admin_a):
    path = tmp_path / "idp.xml"
    path.write_text(idp.metadata_xml)
    out = io.StringIO()
    call_command("sso", "set", "--organization", "org-a", "--metadata-file", str(path), stdout=out)
    assert "stored" in out.getvalue()
    config = SsoConfig.objects.get(organization=org_a)
    assert config.idp_entity_id == idp.entity_id

    config.enabled = config.require_sso = True
    config.save()
    out = io.StringIO()
    call_command("sso", "off", "--organization", "org-a", "--json", stdout=out)
    shown = json.loads(out.getvalue().split("\n", 1)[1])
    assert shown["enabled"] is False and shown["require_sso"] is False
    event = AuditEvent.objects.filter(action=AuditEvent.Action.SSO_SETTINGS).latest("id")
    assert event.actor_label.startswith("operator:sso")


def test_the_command_refuses_bad_metadata(org_a, tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<!DOCTYPE x><x/>")
    with pytest.raises(CommandError, match="metadata-file"):
        call_command("sso", "set", "--organization", "org-a", "--metadata-file", str(path))


# --- The audit log in words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            [
                "Single sign-on refused: signature missing or not valid",
                "Single sign-on settings changed",
                "Identity provider entity ID",
                "Match users by",
                "NameID (email address format)",
                "Signed in with single sign-on",
            ],
        ),
        (
            "ja",
            [
                "シングルサインオンを拒否",
                "シングルサインオンの設定を変更",
                "ID プロバイダーのエンティティ ID",
                "ユーザーの照合方法",
                "NameID（メールアドレス形式）",
                "シングルサインオンでログイン",
            ],
        ),
    ],
)
def test_sso_events_read_in_words(admin_client_a, admin_a, org_a, idp, locale, expected):
    connect(org_a, idp)
    admin_client_a.post(
        OPTIONS_URL, options(enabled="on", match_by="attribute", match_attribute="mail")
    )
    trip = start(idp)
    answer(trip, signed(idp, trip, admin_a.login_id, sign_assertion=False))
    trip = start(idp)
    answer(trip, signed(idp, trip, admin_a.login_id, attributes={"mail": [admin_a.login_id]}))
    admin_a.locale = locale
    admin_a.save(update_fields=["locale"])

    page = admin_client_a.get(reverse("audit:list")).content.decode()

    for text in expected:
        assert text in page, text
    for code in ("match_by", "idp_entity_id", "name_id", "require_sso"):
        assert code not in page, code


def test_requiring_sso_ends_password_sessions_but_not_sso_or_break_glass_ones(
    admin_client_a, admin_a, member_a, org_a, sso_a, idp, django_capture_on_commit_callbacks
):
    TOTPDeviceFactory(user=admin_a)
    password_member = Client()
    password_member.post(reverse("login"), {"username": member_a.login_id, "password": PASSWORD})
    other = UserFactory(organization=org_a, login_id="sso.user@a.example.com")
    trip = start(idp, login_id=other.login_id)
    answer(trip, signed(idp, trip, other.login_id))
    assert password_member.get(reverse("mfa:security")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_a.post(
            OPTIONS_URL, options(enabled="on", require_sso="on", break_glass=[admin_a.pk])
        )

    assert response.status_code == 302
    assert password_member.get(reverse("mfa:security")).status_code == 302  # signed out
    assert trip.client.get(reverse("mfa:security")).status_code == 200
    assert admin_client_a.get(SETTINGS_URL).status_code == 200
