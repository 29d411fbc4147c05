"""Passkeys and security keys (WebAuthn) through py_webauthn: it builds the options and checks
every response (challenge, origin, RP ID hash, user presence, signature, signature counter).
This module only chooses the options and maps the library's answers to ours.

The relying party ID and the accepted origins come from WEBAUTHN_RP_ID / WEBAUTHN_ORIGINS
(README, Configuration). Left empty, they are the request's own host name and origin, which
ALLOWED_HOSTS has already vetted: right for `make run` and one-host deployments."""

import ipaddress
import json
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from . import crypto

RP_NAME = "MiiTel Admin"
TIMEOUT_MS = 120_000
# A credential JSON larger than this is not a browser's answer (IDs are at most 1,023 bytes,
# public keys and attestation statements a few kilobytes).
MAX_RESPONSE_CHARS = 64 * 1024
CREDENTIAL_ID_MAX_CHARS = 1400
_TRANSPORTS = {t.value: t for t in AuthenticatorTransport}


class PasskeyRefused(Exception):
    """The browser's answer did not verify; the message says why (for the audit log only)."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origins: list[str]

    @property
    def usable(self) -> bool:
        """Browsers accept only a domain as RP ID: the site opened by an IP address (make run's
        http://127.0.0.1:8000) cannot use passkeys; localhost can."""
        try:
            ipaddress.ip_address(self.id.strip("[]"))
        except ValueError:
            return bool(self.id)
        return False


def relying_party(request: HttpRequest) -> RelyingParty:
    host = request.get_host()
    rp_id = settings.WEBAUTHN_RP_ID or split_domain_port(host)[0]
    origins = list(settings.WEBAUTHN_ORIGINS) or [f"{request.scheme}://{host}"]
    return RelyingParty(id=rp_id, origins=origins)


def _descriptors(credentials) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(c.credential_id),
            transports=[_TRANSPORTS[t] for t in c.transports if t in _TRANSPORTS] or None,
        )
        for c in credentials
    ]


def registration_options(*, user, rp: RelyingParty, existing) -> tuple[str, bytes]:
    """(options as JSON for navigator.credentials.create(), the challenge to keep)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_name=user.login_id,
        user_id=crypto.webauthn_user_handle(user.pk),
        user_display_name=user.name,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        # The same authenticator cannot be added twice.
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json(options), options.challenge


def authentication_options(*, credentials, rp: RelyingParty) -> tuple[str, bytes]:
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(credentials),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def _checked(response: str) -> str:
    if not response or len(response) > MAX_RESPONSE_CHARS:
        raise PasskeyRefused("missing or oversized response")
    return response


def verify_registration(
    *, response: str, challenge: bytes, rp: RelyingParty
) -> VerifiedRegistration:
    try:
        return verify_registration_response(
            credential=_checked(response),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRefused(str(error)[:300]) from None


def verify_authentication(
    *, response: str, challenge: bytes, rp: RelyingParty, public_key: bytes, sign_count: int
) -> VerifiedAuthentication:
    try:
        return verify_authentication_response(
            credential=_checked(response),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRefused(str(error)[:300]) from None


def response_credential_id(response: str) -> str | None:
    """The credential ID a browser's answer names (to find the stored key), if well formed."""
    try:
        data = json.loads(_checked(response))
    except (ValueError, PasskeyRefused):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= CREDENTIAL_ID_MAX_CHARS:
        return None
    return value


def response_transports(response: str) -> list[str]:
    try:
        data = json.loads(response)
        found = data["response"].get("transports") or []
    except (ValueError, TypeError, KeyError, AttributeError):
        return []
    return [t for t in found if isinstance(t, str) and t in _TRANSPORTS]
