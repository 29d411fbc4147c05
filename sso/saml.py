"""The one place that talks SAML, through pysaml2 (docs/sso.md). Nothing here reads a response by
hand: pysaml2 checks the signature (with xmlsec1, against the certificates of the stored IdP
metadata), the issuer, the audience, the recipient and destination, NotBefore / NotOnOrAfter
with a small clock skew, and InResponseTo against the requests this browser made. The identity
is read only from the assertion pysaml2 verified.

Before pysaml2 parses anything the XML is refused if it declares a DOCTYPE (sso.xml)."""

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import StatusError, UnsolicitedResponse
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.sigver import SigverError
from saml2.validate import ResponseLifetimeExceed, ToEarly
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from .models import SsoConfig
from .xml import UnsafeXml, check_xml

logger = logging.getLogger(__name__)

# The POSTed SAMLResponse, base64: bigger is refused before decoding (a real one is a few KB).
MAX_RESPONSE_CHARS = 256 * 1024


class Refused(Exception):
    """A response that does not sign anyone in; `code` is the reason recorded in the audit log."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SpUrls:
    """This service as one organization's service provider: absolute URLs."""

    entity_id: str
    acs_url: str


@dataclass(frozen=True)
class Verified:
    """What the verified assertion says."""

    assertion_id: str
    name_id: str
    attributes: dict[str, list[str]]
    not_on_or_after: datetime
    in_response_to: str | None


def _sp_config(config: SsoConfig, urls: SpUrls, *, allow_unsolicited: bool) -> SPConfig:
    sp_key = settings.SSO_SP_KEY_FILE
    sp_cert = settings.SSO_SP_CERT_FILE
    conf = {
        "entityid": urls.entity_id,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(urls.acs_url, BINDING_HTTP_POST)]},
                # Signed assertions are required; a signed response around them is accepted
                # too but not enough on its own.
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": allow_unsolicited,
                "authn_requests_signed": bool(config.wants_signed_requests and sp_key),
                "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
                "name_id_format_allow_create": False,
                "idp": [config.idp_entity_id],
            }
        },
        "metadata": {"inline": [config.metadata_xml]},
        "xmlsec_binary": settings.SSO_XMLSEC_BINARY,
        "accepted_time_diff": settings.SSO_CLOCK_SKEW_SECONDS,
        # Our own signatures (AuthnRequests) in SHA-256, not pysaml2's default SHA-1.
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "allow_unknown_attributes": True,
    }
    if sp_key and sp_cert:
        conf["key_file"] = sp_key
        conf["cert_file"] = sp_cert
    sp_config = SPConfig()
    sp_config.load(conf)
    return sp_config


def sp_metadata(config: SsoConfig | None, urls: SpUrls) -> str:
    """This organization's SP metadata XML (entity ID, ACS URL, NameID format)."""
    conf = {
        "entityid": urls.entity_id,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(urls.acs_url, BINDING_HTTP_POST)]},
                "want_assertions_signed": True,
                "authn_requests_signed": bool(settings.SSO_SP_KEY_FILE),
                "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
            }
        },
        "xmlsec_binary": settings.SSO_XMLSEC_BINARY,
    }
    if settings.SSO_SP_KEY_FILE and settings.SSO_SP_CERT_FILE:
        conf["key_file"] = settings.SSO_SP_KEY_FILE
        conf["cert_file"] = settings.SSO_SP_CERT_FILE
    sp_config = SPConfig()
    sp_config.load(conf)
    return str(entity_descriptor(sp_config))


def authn_request(config: SsoConfig, urls: SpUrls) -> tuple[str, str]:
    """A new AuthnRequest for the HTTP-Redirect binding: (its ID, the IdP URL to send the
    browser to). Signed when the IdP's metadata asks for it and a key is configured."""
    client = Saml2Client(config=_sp_config(config, urls, allow_unsolicited=False))
    request_id, info = client.prepare_for_authenticate(
        entityid=config.idp_entity_id,
        binding=BINDING_HTTP_REDIRECT,
        relay_state="",
        nameid_format=NAMEID_FORMAT_EMAILADDRESS,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    location = dict(info["headers"])["Location"]
    return request_id, location


def decode_response(raw: str) -> bytes:
    """The POSTed SAMLResponse as XML bytes, checked for DOCTYPE before any parsing."""
    if not raw or len(raw) > MAX_RESPONSE_CHARS:
        raise Refused("malformed")
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("malformed") from None
    try:
        check_xml(data)
    except UnsafeXml as error:
        raise Refused(error.code) from None
    return data


def _not_on_or_after(assertion) -> datetime:
    times = []
    if assertion.conditions is not None and assertion.conditions.not_on_or_after:
        times.append(assertion.conditions.not_on_or_after)
    for confirmation in getattr(assertion.subject, "subject_confirmation", None) or []:
        data = confirmation.subject_confirmation_data
        if data is not None and data.not_on_or_after:
            times.append(data.not_on_or_after)
    if not times:
        raise Refused("expired")
    return max(
        datetime.strptime(t.strip()[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) for t in times
    )


def _attributes(assertion) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement or []:
        for attribute in statement.attribute or []:
            values = [v.text.strip() for v in attribute.attribute_value or [] if v.text]
            for key in {attribute.name, attribute.friendly_name} - {None, ""}:
                found.setdefault(key, []).extend(values)
    return found


def verify_response(
    config: SsoConfig, urls: SpUrls, *, xml: bytes, outstanding: dict[str, str]
) -> Verified:
    """Verify a response posted to the ACS; raises Refused(code). `outstanding` maps the IDs of
    the AuthnRequests this browser made to where each should lead."""
    client = Saml2Client(
        config=_sp_config(config, urls, allow_unsolicited=config.allow_idp_initiated)
    )
    encoded = base64.b64encode(xml).decode()
    try:
        response = client.parse_authn_request_response(
            encoded, BINDING_HTTP_POST, outstanding=outstanding
        )
    except UnsolicitedResponse:
        raise Refused("unsolicited") from None
    except StatusError:
        raise Refused("idp_status") from None
    except ResponseLifetimeExceed:
        raise Refused("expired") from None
    except ToEarly:
        raise Refused("not_yet_valid") from None
    except SigverError:
        raise Refused("signature") from None
    except Exception as error:  # noqa: BLE001 (pysaml2 raises many types; every one refuses)
        logger.info("SAML response refused: %s: %s", type(error).__name__, str(error)[:300])
        raise Refused(_code_of(error)) from None
    if response is None or response.assertion is None:
        raise Refused("invalid")
    assertion = response.assertion
    if response.issuer() != config.idp_entity_id:
        raise Refused("issuer")
    in_response_to = response.in_response_to or None
    if in_response_to and in_response_to not in outstanding:
        # With IdP-initiated sign-in on, pysaml2 takes any response; one that answers a request
        # must still answer one this browser made.
        raise Refused("unsolicited")
    if not in_response_to and not config.allow_idp_initiated:
        raise Refused("unsolicited")
    name_id = response.name_id
    return Verified(
        assertion_id=str(assertion.id or ""),
        name_id=(name_id.text or "").strip() if name_id is not None else "",
        attributes=_attributes(assertion),
        not_on_or_after=_not_on_or_after(assertion),
        in_response_to=in_response_to,
    )


def _code_of(error: Exception) -> str:
    text = str(error).lower()
    name = type(error).__name__.lower()
    for needle, code in (
        ("signature", "signature"),
        ("signed", "signature"),
        ("audience", "audience"),
        ("destination", "destination"),
        ("recipient", "recipient"),
        ("issuer", "issuer"),
        ("lifetime", "expired"),
        ("assertion", "invalid"),
    ):
        if needle in text or needle in name:
            return code
    return "invalid"
