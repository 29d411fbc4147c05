"""SCIM tokens: the Provisioning page (list, create shown once, revoke; audited), the operator
commands, and how tokens are stored."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from scim.models import ScimToken
from tests.factories import OrganizationFactory

from .conftest import ScimClient, make_token

pytestmark = pytest.mark.django_db


def test_the_page_lists_the_organizations_tokens_only(admin_client_a, org_a, org_b):
    make_token(org_a, "Entra ID")
    make_token(org_b, "Okta of B")

    response = admin_client_a.get(reverse("provisioning:tokens"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Entra ID" in page and "Okta of B" not in page
    assert "http://testserver/scim/v2/" in page


def test_creating_a_token_shows_it_once_and_stores_only_its_hash(admin_client_a, org_a, admin_a):
    response = admin_client_a.post(reverse("provisioning:tokens"), {"name": "  Okta  "})

    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("mtscim_") and len(secret) > 40
    assert secret in response.content.decode()
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    token = ScimToken.objects.get(organization=org_a)
    assert (token.name, token.created_by) == ("Okta", admin_a)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ScimToken.objects.filter(pk=token.pk).values().get())
    # Shown once: the page afterwards has no secret.
    assert secret not in admin_client_a.get(reverse("provisioning:tokens")).content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCIM_TOKEN_CREATE)
    assert (event.organization, event.actor, event.target_label) == (org_a, admin_a, "Okta")
    assert ScimClient(secret).get("ServiceProviderConfig").status_code == 200


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name"),
        ("x" * 101, "at most 100 printable characters"),
        ("Entra ID", "already exists"),
    ],
)
def test_a_bad_name_is_a_form_error_and_creates_nothing(
    admin_client_a, admin_a, org_a, name, message
):
    admin_a.locale = "en"
    admin_a.save(update_fields=["locale"])
    make_token(org_a, "Entra ID")

    response = admin_client_a.post(reverse("provisioning:tokens"), {"name": name})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ScimToken.objects.filter(organization=org_a).count() == 1


def test_revoking_a_token_refuses_it_at_once_and_is_audited(admin_client_a, org_a, admin_a):
    secret = make_token(org_a, "Entra ID")
    token = ScimToken.objects.get(organization=org_a)

    response = admin_client_a.post(reverse("provisioning:revoke", args=[token.pk]))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ScimClient(secret).get("Users").status_code == 401
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCIM_TOKEN_REVOKE)
    assert (event.actor, event.target_label) == (admin_a, "Entra ID")
    # Again: nothing more happens.
    assert admin_client_a.post(reverse("provisioning:revoke", args=[token.pk])).status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SCIM_TOKEN_REVOKE).count() == 1
    # A revoked token's name may be used again.
    assert (
        admin_client_a.post(reverse("provisioning:tokens"), {"name": "Entra ID"}).status_code == 200
    )


def test_members_other_organizations_wrong_methods_and_csrf(
    member_client_a, admin_client_b, org_a, admin_a
):
    make_token(org_a, "Entra ID")
    token = ScimToken.objects.get(organization=org_a)
    revoke = reverse("provisioning:revoke", args=[token.pk])

    assert member_client_a.get(reverse("provisioning:tokens")).status_code == 403
    assert member_client_a.post(reverse("provisioning:tokens"), {"name": "x"}).status_code == 403
    assert member_client_a.post(revoke).status_code == 403
    assert admin_client_b.post(revoke).status_code == 404
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(admin_a)
    assert csrf.post(revoke).status_code == 403
    assert csrf.post(reverse("provisioning:tokens"), {"name": "x"}).status_code == 403
    assert csrf.get(revoke).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ScimToken.objects.count() == 1


def test_create_and_revoke_commands(org_a):
    out = StringIO()
    call_command("create_scim_token", organization=org_a.slug, name="Okta", stdout=out)

    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("mtscim_")
    assert ScimClient(secret).get("ServiceProviderConfig").status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCIM_TOKEN_CREATE)
    assert event.channel == "operator" and event.actor_label.startswith(
        "operator:create_scim_token"
    )

    with pytest.raises(CommandError, match="already exists"):
        call_command("create_scim_token", organization=org_a.slug, name="Okta", stdout=StringIO())
    with pytest.raises(CommandError, match="no organization"):
        call_command("create_scim_token", organization="nope", name="X", stdout=StringIO())
    with pytest.raises(CommandError, match="Active tokens: Okta"):
        call_command("revoke_scim_token", organization=org_a.slug, name="Entra", stdout=StringIO())

    out = StringIO()
    call_command("revoke_scim_token", organization=org_a.slug, name="Okta", stdout=out)
    assert "Revoked" in out.getvalue()
    assert ScimClient(secret).get("ServiceProviderConfig").status_code == 401


def test_a_token_of_another_organization_never_acts_here(org_a):
    other = OrganizationFactory(slug="elsewhere")
    secret = make_token(other, "Other")
    response = ScimClient(secret).get("Users")
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0
