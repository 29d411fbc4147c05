"""A real SAML identity provider for the tests: pysaml2's IdP server with a key and a
self-signed certificate made at test time, so every assertion is signed for real and the
service's xmlsec1 verifies it (no mock of verification anywhere)."""

import base64
import datetime
import functools
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.config import IdPConfig, SPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.samlp import authn_request_from_string
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC = "/usr/bin/xmlsec1"
_DIR = Path(tempfile.mkdtemp(prefix="miitel-test-idp-"))


@functools.cache
def keypair(name: str, days: int = 365) -> tuple[str, str, str]:
    """(key file, certificate file, certificate base64 DER) for a test signer `name`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Test IdP {name}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_file = _DIR / f"{name}.key"
    cert_file = _DIR / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return str(key_file), str(cert_file), der


def _sp_metadata(entity_id: str, acs_url: str) -> str:
    conf = SPConfig()
    conf.load(
        {
            "entityid": entity_id,
            "service": {
                "sp": {"endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}}
            },
            "xmlsec_binary": XMLSEC,
        }
    )
    return str(entity_descriptor(conf))


class TestIdp:
    """One identity provider: its entity ID, its signing key (`signer`), and the key its
    metadata publishes (`published`, the same unless a test forges signatures)."""

    __test__ = False  # not a test class for pytest

    def __init__(
        self,
        entity_id: str = "https://idp.example.test/entra",
        signer: str = "idp",
        published: str | None = None,
        sso_url: str = "https://idp.example.test/entra/sso",
        days: int = 365,
        wants_signed_requests: bool = False,
    ):
        self.days = days
        self.wants_signed_requests = wants_signed_requests
        self.entity_id = entity_id
        self.signer = signer
        self.published = published or signer
        self.sso_url = sso_url

    def _config(self, signer: str, sp_metadata: list[str] | None = None) -> IdPConfig:
        key_file, cert_file, _der = keypair(signer, self.days)
        conf = IdPConfig()
        conf.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": self.wants_signed_requests,
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                            }
                        },
                    }
                },
                "key_file": key_file,
                "cert_file": cert_file,
                "xmlsec_binary": XMLSEC,
                "metadata": {"inline": sp_metadata or []},
            }
        )
        return conf

    @property
    def metadata_xml(self) -> str:
        return str(entity_descriptor(self._config(self.published)))

    def request_id(self, location: str) -> str:
        """The ID of the AuthnRequest a browser was sent to the IdP with (HTTP-Redirect)."""
        query = parse_qs(urlsplit(location).query)
        request = authn_request_from_string(decode_base64_and_inflate(query["SAMLRequest"][0]))
        return request.id

    def response(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        name_id: str,
        in_response_to: str | None,
        audience: str | None = None,
        destination: str | None = None,
        attributes: dict | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
    ) -> str:
        """A signed Response XML for `name_id`."""
        audience = audience or sp_entity_id
        server = Server(config=self._config(self.signer, [_sp_metadata(audience, acs_url)]))
        response = server.create_authn_response(
            identity=attributes or {"mail": [name_id]},
            in_response_to=in_response_to,
            destination=destination or acs_url,
            sp_entity_id=audience,
            name_id=saml.NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        return str(response)


def encoded(xml: str | bytes) -> str:
    data = xml.encode() if isinstance(xml, str) else xml
    return base64.b64encode(data).decode()
