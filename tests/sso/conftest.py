"""Organization A connected to a test identity provider (tests/sso/idp.py), and the steps of a
round trip through the test client."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from audit.services import Actor
from sso import selectors, services
from sso.models import SsoConfig

from .idp import TestIdp, encoded

HOST = "http://testserver"


@dataclass
class Trip:
    client: Client
    request_id: str
    sp_entity_id: str
    acs_url: str


def sp_of(slug: str) -> tuple[str, str]:
    return (
        HOST + reverse("sso:metadata", kwargs={"slug": slug}),
        HOST + reverse("sso:acs", kwargs={"slug": slug}),
    )


def connect(
    organization, idp: TestIdp, *, enabled: bool = True, actor: Actor | None = None, **fields
) -> SsoConfig:
    """Save the IdP's metadata for `organization` through the service, as tested and on."""
    config = services.metadata_set(
        actor=actor or Actor.operator("test"),
        organization=organization,
        xml=idp.metadata_xml.encode(),
    )
    config.tested_metadata_sha256 = selectors.metadata_digest(config.metadata_xml)
    config.enabled = enabled
    for name, value in fields.items():
        setattr(config, name, value)
    config.save()
    return config


@pytest.fixture
def idp() -> TestIdp:
    return TestIdp()


@pytest.fixture
def sso_a(org_a, idp) -> SsoConfig:
    return connect(org_a, idp)


def start(idp: TestIdp, client: Client | None = None, *, login_id: str = "", slug: str = "org-a"):
    """Sign in with SSO as far as the IdP: the AuthnRequest's ID, bound to this client."""
    client = client or Client()
    data = {"login_id": login_id} if login_id else {"organization": slug}
    page = client.post(reverse("sso:start"), data)
    assert page.status_code == 200, page.status_code
    location = page.context["location"]
    assert location.startswith(idp.sso_url)
    sp_entity_id, acs_url = sp_of(slug)
    return Trip(client, idp.request_id(location), sp_entity_id, acs_url)


def answer(trip: Trip, xml: str | bytes, slug: str = "org-a"):
    """The IdP's POST of `xml` to the ACS, from the browser of `trip`."""
    return trip.client.post(
        reverse("sso:acs", kwargs={"slug": slug}), {"SAMLResponse": encoded(xml)}
    )


def signed(idp: TestIdp, trip: Trip, name_id: str, **kwargs) -> str:
    kwargs.setdefault("in_response_to", trip.request_id)
    return idp.response(
        sp_entity_id=trip.sp_entity_id, acs_url=trip.acs_url, name_id=name_id, **kwargs
    )
