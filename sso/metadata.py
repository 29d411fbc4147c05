"""The identity provider's metadata, read when an admin or an operator saves it: its entity ID,
its sign-in URL (HTTP-Redirect binding, else HTTP-POST), its signing certificates with their
expiry, and whether it wants signed AuthnRequests. pysaml2 itself loads the stored XML again
for every sign-in (sso.saml)."""

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .xml import UnsafeXml, parse_xml

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
MAX_METADATA_BYTES = 512 * 1024
# Certificates expiring within this many days are warned about (docs/sso.md).
EXPIRY_WARNING_DAYS = 30


class MetadataError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Certificate:
    fingerprint: str
    subject: str
    not_after: datetime

    def as_json(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "not_after": self.not_after.isoformat(),
        }


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    certificates: list[Certificate]
    wants_signed_requests: bool


def _certificate(text: str) -> Certificate:
    der = base64.b64decode("".join(text.split()), validate=True)
    cert = x509.load_der_x509_certificate(der)
    return Certificate(
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string()[:300],
        not_after=cert.not_valid_after_utc,
    )


def parse_metadata(data: bytes) -> IdpMetadata:
    """Read an IdP's EntityDescriptor; raises MetadataError with a message for the admin."""
    if len(data) > MAX_METADATA_BYTES:
        raise MetadataError(_("The metadata file is too large (512 KB at most)."))
    try:
        root = parse_xml(data)
    except UnsafeXml as error:
        if error.code == "doctype":
            raise MetadataError(
                _("The metadata contains a DOCTYPE or entity declaration, which is refused.")
            ) from None
        raise MetadataError(_("This is not readable XML metadata.")) from None
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        found = root.findall(f"{{{MD}}}EntityDescriptor")
        if len(found) != 1:
            raise MetadataError(_("The metadata must describe exactly one identity provider."))
        root = found[0]
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise MetadataError(_("This is not SAML 2.0 metadata (no EntityDescriptor)."))
    entity_id = (root.get("entityID") or "").strip()
    idp = root.find(f"{{{MD}}}IDPSSODescriptor")
    if not entity_id or idp is None:
        raise MetadataError(_("The metadata describes no identity provider (IDPSSODescriptor)."))
    services = {
        s.get("Binding"): (s.get("Location") or "").strip()
        for s in idp.findall(f"{{{MD}}}SingleSignOnService")
    }
    # Requests are sent with the HTTP-Redirect binding (a form posted to another site would be
    # stopped by the CSP's form-action rule); Entra ID and Okta publish it.
    sso_url = services.get(BINDING_REDIRECT) or ""
    if not sso_url.startswith("https://") and not sso_url.startswith("http://"):
        raise MetadataError(
            _("The metadata has no sign-in URL (SingleSignOnService, HTTP-Redirect).")
        )
    certificates = []
    for descriptor in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if descriptor.get("use", "signing") != "signing":
            continue
        for node in descriptor.iter(f"{{{DS}}}X509Certificate"):
            try:
                cert = _certificate(node.text or "")
            except ValueError:
                raise MetadataError(_("A certificate in the metadata cannot be read.")) from None
            if cert.fingerprint not in {c.fingerprint for c in certificates}:
                certificates.append(cert)
    if not certificates:
        raise MetadataError(_("The metadata has no signing certificate."))
    if len(entity_id) > 1024 or len(sso_url) > 2048:
        raise MetadataError(_("The entity ID or the sign-in URL is too long."))
    return IdpMetadata(
        entity_id=entity_id,
        sso_url=sso_url,
        certificates=certificates,
        wants_signed_requests=idp.get("WantAuthnRequestsSigned", "").strip() in ("true", "1"),
    )


@dataclass(frozen=True)
class CertificateState:
    subject: str
    fingerprint: str
    not_after: datetime
    expired: bool
    expires_soon: bool


def certificate_states(certificates: list[dict]) -> list[CertificateState]:
    """The stored certificates with whether each has expired or expires within 30 days."""
    now = timezone.now()
    states = []
    for cert in certificates:
        try:
            not_after = datetime.fromisoformat(cert["not_after"])
        except (KeyError, TypeError, ValueError):
            continue
        states.append(
            CertificateState(
                subject=cert.get("subject", ""),
                fingerprint=cert.get("fingerprint", ""),
                not_after=not_after,
                expired=not_after <= now,
                expires_soon=now < not_after <= now + timedelta(days=EXPIRY_WARNING_DAYS),
            )
        )
    return states
