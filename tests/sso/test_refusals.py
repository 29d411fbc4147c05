"""Every way a response must not sign anyone in (docs/sso.md, "What is refused"), each against
the real test IdP: the response is built and signed by pysaml2's IdP server, then altered the
way an attacker would; the service's pysaml2 + xmlsec1 must refuse it. A refusal signs nobody
in, is audited with its reason, and answers a translated page (never a 500)."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from sso.models import SsoConfig
from tests.factories import UserFactory

from .conftest import Trip, answer, connect, signed, sp_of, start
from .idp import TestIdp, encoded

pytestmark = pytest.mark.django_db


def assert_refused(
    response, trip: Trip, code: str | None = None, status: int = 403, sign_ins: int = 0
):
    assert response.status_code == status, response.status_code
    assert "sso/refused.html" in [t.name for t in response.templates]
    assert "_auth_user_id" not in trip.client.session
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SSO_LOGIN).count() == sign_ins
    event = AuditEvent.objects.filter(action=AuditEvent.Action.SSO_FAILED).latest("id")
    assert event.outcome == AuditEvent.Outcome.FAILURE
    if code is not None:
        assert event.detail == code, event.detail


def test_control_the_unaltered_response_signs_in(sso_a, idp, member_a):
    trip = start(idp)
    done = answer(trip, signed(idp, trip, member_a.login_id))
    assert done.status_code == 302
    assert int(trip.client.session["_auth_user_id"]) == member_a.pk


def test_an_unsigned_response_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id, sign_assertion=False)
    assert "Signature" not in xml
    assert_refused(answer(trip, xml), trip, "signature")


def test_a_signed_response_around_an_unsigned_assertion_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id, sign_assertion=False, sign_response=True)
    assert_refused(answer(trip, xml), trip)


def test_a_signature_by_another_key_is_refused(sso_a, idp, member_a):
    forger = TestIdp(entity_id=idp.entity_id, signer="attacker")
    trip = start(idp)
    xml = signed(forger, trip, member_a.login_id)
    assert_refused(answer(trip, xml), trip, "signature")


def test_an_assertion_altered_after_signing_is_refused(sso_a, idp, member_a, admin_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id).replace(member_a.login_id, admin_a.login_id)
    assert_refused(answer(trip, xml), trip, "signature")


def test_a_response_for_another_audience_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id, audience="https://other.example.test/sp")
    assert_refused(answer(trip, xml), trip, "audience")


def test_a_response_for_another_destination_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(
        idp, trip, member_a.login_id, destination="https://other.example.test/sso/org-a/acs/"
    )
    assert_refused(answer(trip, xml), trip)


def test_an_expired_response_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id)  # valid for 5 minutes, skew 2 minutes
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=8)):
        response = answer(trip, xml)
    assert_refused(response, trip, "expired")


def test_a_replayed_response_is_refused(sso_a, idp, member_a):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id)
    assert answer(trip, xml).status_code == 302
    # Even from the same browser (its SSO cookie, not its new session).
    thief = Trip(Client(), trip.request_id, trip.sp_entity_id, trip.acs_url)
    thief.client.cookies["miitel_sso"] = trip.client.cookies["miitel_sso"].value

    assert_refused(answer(thief, xml), thief, "unsolicited", sign_ins=1)


def test_a_replayed_idp_initiated_response_is_refused_by_its_assertion_id(org_a, idp, member_a):
    connect(org_a, idp, allow_idp_initiated=True)
    sp_entity_id, acs_url = sp_of("org-a")
    trip = Trip(Client(), "", sp_entity_id, acs_url)
    xml = idp.response(
        sp_entity_id=sp_entity_id, acs_url=acs_url, name_id=member_a.login_id, in_response_to=None
    )
    assert answer(trip, xml).status_code == 302  # the control: IdP-initiated is on

    again = Trip(Client(), "", sp_entity_id, acs_url)
    assert_refused(answer(again, xml), again, "replayed", sign_ins=1)


def test_idp_initiated_sign_in_is_refused_when_off(sso_a, idp, member_a):
    sp_entity_id, acs_url = sp_of("org-a")
    trip = Trip(Client(), "", sp_entity_id, acs_url)
    xml = idp.response(
        sp_entity_id=sp_entity_id, acs_url=acs_url, name_id=member_a.login_id, in_response_to=None
    )
    assert_refused(answer(trip, xml), trip, "unsolicited")


def test_a_response_to_a_request_of_another_browser_is_refused(sso_a, idp, member_a):
    victim = start(idp)
    attacker = Trip(Client(), victim.request_id, victim.sp_entity_id, victim.acs_url)
    xml = signed(idp, victim, member_a.login_id)
    assert_refused(answer(attacker, xml), attacker, "unsolicited")


def test_a_response_of_another_organizations_idp_is_refused(sso_a, idp, org_b, member_a):
    idp_b = TestIdp(entity_id="https://idp.example.test/okta-b", signer="idp-b")
    connect(org_b, idp_b)
    trip = start(idp)
    xml = signed(idp_b, trip, member_a.login_id)
    assert_refused(answer(trip, xml), trip, "signature")


def test_a_user_of_another_organization_is_refused(sso_a, idp, admin_b):
    trip = start(idp)
    assert_refused(answer(trip, signed(idp, trip, admin_b.login_id)), trip, "unknown_user")


@pytest.mark.parametrize("state", ["unknown", "deactivated", "deleted"])
def test_an_unknown_deactivated_or_deleted_user_is_refused_with_the_ordinary_page(
    sso_a, idp, org_a, state
):
    login_id = "someone@a.example.com"
    if state != "unknown":
        user = UserFactory(organization=org_a, login_id=login_id, is_active=state != "deactivated")
        if state == "deleted":
            User.all_objects.filter(pk=user.pk).update(
                deleted_at=datetime.datetime.now(datetime.UTC), login_id="", login_id_key=""
            )
    trip = start(idp)
    response = answer(trip, signed(idp, trip, login_id))
    assert_refused(response, trip, "unknown_user")
    assert login_id not in response.content.decode()


def test_sso_turned_off_refuses_sign_in(sso_a, idp, member_a):
    trip = start(idp)
    SsoConfig.objects.filter(pk=sso_a.pk).update(enabled=False)
    assert_refused(answer(trip, signed(idp, trip, member_a.login_id)), trip, "not_enabled")


@pytest.mark.parametrize(
    "declaration",
    [
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
        "<!doctype r>",
    ],
)
def test_xml_with_a_doctype_or_entity_is_refused_before_parsing(sso_a, idp, member_a, declaration):
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id)
    xml = xml.replace("<?xml version='1.0' encoding='UTF-8'?>", "").replace(
        '<?xml version="1.0"?>', ""
    )
    assert_refused(answer(trip, declaration + xml), trip, "doctype", status=400)


def test_signature_wrapping_a_second_unsigned_assertion_is_refused(sso_a, idp, member_a, admin_a):
    """XSW: an unsigned assertion naming the admin beside the signed one naming the member."""
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id)
    signed_assertion = re.search(r"<ns1:Assertion .*?</ns1:Assertion>", xml, re.S).group(0)
    evil = re.sub(r"<ns2:Signature .*?</ns2:Signature>", "", signed_assertion, flags=re.S)
    evil = evil.replace(member_a.login_id, admin_a.login_id).replace('ID="', 'ID="evil-', 1)
    for wrapped in (
        xml.replace(signed_assertion, evil + signed_assertion),
        xml.replace(signed_assertion, signed_assertion + evil),
    ):
        other = start(idp)
        wrapped = wrapped.replace(trip.request_id, other.request_id)
        assert_refused(answer(other, wrapped), other)


def test_signature_wrapping_the_signed_assertion_moved_is_refused(sso_a, idp, member_a, admin_a):
    """XSW: the signed assertion moved into an extension, an unsigned one in its place."""
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id)
    signed_assertion = re.search(r"<ns1:Assertion .*?</ns1:Assertion>", xml, re.S).group(0)
    evil = re.sub(r"<ns2:Signature .*?</ns2:Signature>", "", signed_assertion, flags=re.S)
    evil = evil.replace(member_a.login_id, admin_a.login_id)
    moved = xml.replace(
        signed_assertion,
        f"<ns0:Extensions>{signed_assertion}</ns0:Extensions>{evil}",
    )
    assert_refused(answer(trip, moved), trip)


def test_a_comment_in_the_nameid_does_not_shorten_it(sso_a, idp, member_a):
    """CVE-2017-11427 class: the IdP signs `member@a.example.com.evil.test`; a comment inserted
    after `member@a.example.com` keeps the signature valid (comments are not signed) and must
    not sign in member@a.example.com."""
    trip = start(idp)
    xml = signed(idp, trip, member_a.login_id + ".evil.test")
    injected = xml.replace(
        f">{member_a.login_id}.evil.test<", f">{member_a.login_id}<!---->.evil.test<"
    )
    assert injected != xml

    response = answer(trip, injected)

    assert_refused(response, trip, "unknown_user")
    event = AuditEvent.objects.get(action=AuditEvent.Action.SSO_FAILED)
    assert event.target_label == member_a.login_id + ".evil.test"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"SAMLResponse": ""},
        {"SAMLResponse": "%%%not base64%%%"},
        {"SAMLResponse": encoded(b"<not xml")},
        {"SAMLResponse": encoded(b"\xff\xfe<\x00x\x00/\x00>\x00")},
        {"SAMLResponse": encoded("<Response>é</Response>")},
        {"SAMLResponse": "A" * 300_000},
    ],
)
def test_malformed_input_answers_400_with_a_translated_page(sso_a, idp, body):
    client = Client(HTTP_ACCEPT_LANGUAGE="ja")
    response = client.post(reverse("sso:acs", kwargs={"slug": "org-a"}), body)
    assert response.status_code in (400, 403), response.status_code
    assert "シングルサインオン" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_acs_of_an_unknown_organization_is_404(client):
    response = client.post(reverse("sso:acs", kwargs={"slug": "nowhere"}), {"SAMLResponse": "x"})
    assert response.status_code == 404
