"""The SP-initiated round trip against a real IdP (pysaml2's server, signatures checked by
xmlsec1): the session, the sign-in record and the audit."""

import pytest
from django.urls import reverse

from accounts.models import UserSession
from audit.models import AuditEvent
from mfa import flow
from tests.mfa.factories import TOTPDeviceFactory

from .conftest import answer, signed, start

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_through_the_identity_provider(sso_a, idp, member_a):
    trip = start(idp, login_id="MEMBER@a.example.com")

    done = answer(trip, signed(idp, trip, "Member@A.example.com"))

    assert done.status_code == 302 and done["Location"] == reverse("home")
    session = trip.client.session
    assert int(session["_auth_user_id"]) == member_a.pk
    assert session[flow.METHOD_KEY] == "sso"
    assert UserSession.objects.filter(user=member_a).count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.SSO_LOGIN)
    assert event.target == member_a and event.organization == member_a.organization


def test_sso_sign_in_does_not_ask_for_the_second_factor(sso_a, idp, admin_a):
    TOTPDeviceFactory(user=admin_a)
    trip = start(idp, login_id=admin_a.login_id)

    done = answer(trip, signed(idp, trip, admin_a.login_id))

    assert done["Location"] == reverse("home")
    assert trip.client.get(reverse("users:list")).status_code == 200


def test_a_temporary_password_is_not_asked_of_an_sso_session(sso_a, idp, member_a):
    member_a.must_change_password = True
    member_a.save(update_fields=["must_change_password"])
    trip = start(idp, slug="org-a")

    answer(trip, signed(idp, trip, member_a.login_id))

    assert trip.client.get(reverse("mfa:security")).status_code == 200


def test_sign_in_by_organization_id_and_next_url(sso_a, idp, admin_a):
    trip = start(idp, slug="org-a")
    done = answer(trip, signed(idp, trip, admin_a.login_id))
    assert done["Location"] == reverse("home")


def test_a_login_id_without_sso_is_told_to_use_the_password(org_b, admin_b, client):
    page = client.post(reverse("sso:start"), {"login_id": admin_b.login_id})
    assert page.status_code == 200
    assert "location" not in page.context
    assert page.context["form"].non_field_errors()
