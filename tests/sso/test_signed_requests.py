"""An IdP whose metadata wants signed AuthnRequests: refused without a signing key of this
service, and sent signed (HTTP-Redirect: Signature and SigAlg in the query) with one."""

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.urls import reverse
from django.utils import translation

from audit.services import Actor
from sso import services
from sso.metadata import MetadataError
from sso.models import SsoConfig

from .conftest import answer, connect, signed, start
from .idp import TestIdp, keypair

pytestmark = pytest.mark.django_db


def test_metadata_wanting_signed_requests_is_refused_without_a_key(org_a, settings):
    settings.SSO_SP_KEY_FILE = ""
    idp = TestIdp(wants_signed_requests=True)
    with translation.override("ja"), pytest.raises(MetadataError, match="署名鍵"):
        services.metadata_set(
            actor=Actor.operator("test"), organization=org_a, xml=idp.metadata_xml.encode()
        )
    assert not SsoConfig.objects.filter(organization=org_a).exists()


def test_requests_are_signed_when_the_idp_wants_it(org_a, member_a, settings, client):
    key_file, cert_file, _der = keypair("sp")
    settings.SSO_SP_KEY_FILE = key_file
    settings.SSO_SP_CERT_FILE = cert_file
    idp = TestIdp(wants_signed_requests=True)
    config = connect(org_a, idp)
    assert config.wants_signed_requests

    page = client.post(reverse("sso:start"), {"organization": "org-a"})
    raw = urlsplit(page.context["location"]).query
    query = parse_qs(raw)
    # HTTP-Redirect binding: the signature covers the query's raw parts, in order.
    signed_part = raw.split("&Signature=")[0]
    certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    certificate.public_key().verify(
        base64.b64decode(query["Signature"][0]),
        signed_part.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    metadata = client.get(reverse("sso:metadata", kwargs={"slug": "org-a"})).content.decode()
    assert 'AuthnRequestsSigned="true"' in metadata

    trip = start(idp)
    assert answer(trip, signed(idp, trip, member_a.login_id)).status_code == 302
