"""Writes of single sign-on: settings (metadata, switches, break-glass admins), the requests sent
to the IdP, and what a verified response leads to. Every change is audited in the same
transaction (docs/sso.md)."""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User, UserSession
from accounts.sessions import SIGN_IN_METHOD_KEY
from audit.models import AuditEvent
from audit.services import Actor, audit_record, diff
from mfa import selectors as mfa_selectors

from . import saml, selectors
from .metadata import IdpMetadata, MetadataError, parse_metadata
from .models import AuthnRequestRecord, SsoConfig, UsedAssertion

# How long an AuthnRequest waits for its response.
REQUEST_LIFETIME = timedelta(minutes=10)


def browser_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest() if value else ""


def new_browser_value() -> str:
    return secrets.token_urlsafe(32)


# --- Settings -----------------------------------------------------------------------------------


def _state(config: SsoConfig | None) -> dict:
    if config is None or config.pk is None:
        return {}
    return {
        "idp_entity_id": config.idp_entity_id,
        "sso_url": config.sso_url,
        "certificates": [c.get("fingerprint", "")[:16] for c in config.certificates],
        "match_by": config.match_by,
        "match_attribute": config.match_attribute,
        "enabled": config.enabled,
        "require_sso": config.require_sso,
        "allow_idp_initiated": config.allow_idp_initiated,
        "break_glass": sorted(u.login_id for u in config.break_glass.all()),
    }


def _record_settings(
    *, actor: Actor, organization: Organization, before: dict, config: SsoConfig, detail=""
) -> dict:
    """Audit what a settings change changed (nothing recorded when nothing did); returns it."""
    changes = diff(before, _state(config))
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.SSO_SETTINGS,
            organization=organization,
            target_label=organization.slug,
            changes=changes,
            detail=detail,
        )
    return changes


@transaction.atomic
def metadata_set(*, actor: Actor, organization: Organization, xml: bytes) -> SsoConfig:
    """Store the IdP's metadata (pasted, uploaded or given to the operator command). Raises
    metadata.MetadataError. A new IdP entity ID needs a new test sign-in before SSO can be
    turned on; certificates added or removed (a rollover) keep SSO as it is."""
    parsed: IdpMetadata = parse_metadata(xml)
    if parsed.wants_signed_requests and not settings.SSO_SP_KEY_FILE:
        raise MetadataError(
            _(
                "This identity provider wants signed sign-in requests, and this service has no "
                "signing key configured. Turn off “signed requests” at the identity provider, or "
                "ask the operator to configure one."
            )
        )
    config = SsoConfig.objects.select_for_update().filter(organization=organization).first()
    before = _state(config)
    if config is None:
        config = SsoConfig(organization=organization)
    elif config.idp_entity_id != parsed.entity_id and config.enabled:
        # Another identity provider altogether: not trusted until tested.
        config.enabled = False
        config.require_sso = False
    config.metadata_xml = xml.decode("utf-8")
    config.idp_entity_id = parsed.entity_id
    config.sso_url = parsed.sso_url
    config.certificates = [c.as_json() for c in parsed.certificates]
    config.wants_signed_requests = parsed.wants_signed_requests
    config.save()
    _record_settings(
        actor=actor, organization=organization, before=before, config=config, detail="metadata"
    )
    return config


@dataclass
class Options:
    enabled: bool
    require_sso: bool
    allow_idp_initiated: bool
    match_by: str = SsoConfig.MatchBy.NAME_ID
    match_attribute: str = ""
    break_glass: list[User] = field(default_factory=list)


@transaction.atomic
def options_set(*, actor: Actor, organization: Organization, options: Options) -> bool:
    """Turn SSO on or off, require it, name the break-glass admins. Raises ValidationError
    ({field: message}); returns whether anything changed."""
    config = SsoConfig.objects.select_for_update().filter(organization=organization).first()
    if config is None:
        raise ValidationError(
            {"enabled": _("Add your identity provider's metadata first.")}, code="no_metadata"
        )
    before = _state(config)
    errors = {}
    break_glass = [
        u
        for u in options.break_glass
        if u.organization_id == organization.pk and u.is_admin and u.is_active
    ]
    if options.enabled and not config.enabled and not selectors.is_tested(config):
        errors["enabled"] = _(
            "Run “Test sign-in” successfully with this metadata before turning single sign-on on."
        )
    if options.require_sso and not options.enabled:
        errors["require_sso"] = _("Single sign-on must be on to require it.")
    elif options.require_sso and not any(mfa_selectors.has_mfa(user=u) for u in break_glass):
        errors["break_glass"] = _(
            "Name at least one break-glass admin who has 2-step verification set up: they keep "
            "signing in with their password if the identity provider fails."
        )
    if options.match_by == SsoConfig.MatchBy.ATTRIBUTE and not options.match_attribute.strip():
        errors["match_attribute"] = _("Enter the attribute's name.")
    if errors:
        raise ValidationError(errors)
    config.enabled = options.enabled
    config.require_sso = options.require_sso
    config.allow_idp_initiated = options.allow_idp_initiated
    config.match_by = options.match_by
    config.match_attribute = (
        options.match_attribute.strip() if options.match_by == SsoConfig.MatchBy.ATTRIBUTE else ""
    )
    config.save()
    config.break_glass.set(break_glass)
    if config.require_sso and not before.get("require_sso"):
        keep = {u.pk for u in break_glass}
        transaction.on_commit(lambda: password_sessions_end(organization=organization, keep=keep))
    return bool(
        _record_settings(actor=actor, organization=organization, before=before, config=config)
    )


def password_sessions_end(*, organization: Organization, keep: set[int]) -> int:
    """Once single sign-on is required, sessions signed in with a password end (but those of
    the break-glass admins `keep`); sessions signed in through the IdP stay. Returns how many."""
    ended = 0
    links = (
        UserSession.objects.filter(user__organization=organization)
        .exclude(user_id__in=keep)
        .select_related("session")
    )
    for link in links:
        if link.session.get_decoded().get(SIGN_IN_METHOD_KEY) != "sso":
            link.session.delete()
            ended += 1
    return ended


@transaction.atomic
def sso_off(*, actor: Actor, organization: Organization) -> bool:
    """Turn single sign-on (and its requirement) off; the metadata stays. Returns whether it
    was on."""
    config = SsoConfig.objects.select_for_update().filter(organization=organization).first()
    if config is None or not (config.enabled or config.require_sso):
        return False
    before = _state(config)
    config.enabled = False
    config.require_sso = False
    config.save(update_fields=["enabled", "require_sso", "updated_at"])
    _record_settings(actor=actor, organization=organization, before=before, config=config)
    return True


# --- The round trip -----------------------------------------------------------------------------


def request_start(
    *,
    config: SsoConfig,
    urls: saml.SpUrls,
    browser: str,
    next_url: str = "",
    test_by: User | None = None,
) -> str:
    """Record a new AuthnRequest bound to this browser; returns the IdP URL to go to."""
    request_id, location = saml.authn_request(config, urls)
    now = timezone.now()
    AuthnRequestRecord.objects.filter(expires_at__lt=now).delete()
    AuthnRequestRecord.objects.create(
        request_id=request_id,
        organization_id=config.organization_id,
        browser_hash=browser_hash(browser),
        expires_at=now + REQUEST_LIFETIME,
        next_url=next_url[:2000],
        test_by=test_by,
    )
    return location


@dataclass(frozen=True)
class Accepted:
    user: User
    next_url: str
    test_by: User | None


def identity_of(config: SsoConfig, verified: saml.Verified) -> str:
    if config.match_by == SsoConfig.MatchBy.ATTRIBUTE:
        values = verified.attributes.get(config.match_attribute) or []
        return values[0] if len(values) == 1 else ""
    return verified.name_id


def response_accept(*, config: SsoConfig, verified: saml.Verified, browser: str) -> Accepted:
    """What a verified response leads to: the assertion is used up (a replay is refused), the
    request it answers too, and the user found. Raises saml.Refused(code). The assertion and
    the request are used up even when the sign-in is then refused (each commits at once)."""
    now = timezone.now()
    UsedAssertion.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    if not verified.assertion_id:
        raise saml.Refused("invalid")
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(
                organization_id=config.organization_id,
                assertion_id=verified.assertion_id[:200],
                expires_at=verified.not_on_or_after,
            )
    except IntegrityError:
        raise saml.Refused("replayed") from None
    record = None
    if verified.in_response_to:
        record = (
            AuthnRequestRecord.objects.filter(
                organization_id=config.organization_id,
                request_id=verified.in_response_to,
                browser_hash=browser_hash(browser),
            )
            .select_related("test_by")
            .first()
        )
        if record is None:
            raise saml.Refused("unsolicited")
        if AuthnRequestRecord.objects.filter(pk=record.pk).delete()[0] == 0:
            raise saml.Refused("replayed")
    test_by = record.test_by if record is not None else None
    if test_by is None and not config.enabled:
        raise saml.Refused("not_enabled")
    user = selectors.user_for_identity(
        organization=config.organization, identity=identity_of(config, verified)
    )
    if user is None:
        raise saml.Refused("unknown_user")
    if test_by is not None:
        if test_by.pk != user.pk:
            raise saml.Refused("test_other_user")
        with transaction.atomic():
            config.tested_metadata_sha256 = selectors.metadata_digest(config.metadata_xml)
            config.tested_at = now
            config.save(update_fields=["tested_metadata_sha256", "tested_at", "updated_at"])
            audit_record(
                actor=Actor(user=user, label=user.login_id),
                action=AuditEvent.Action.SSO_TEST,
                organization=config.organization,
                target=user,
            )
    return Accepted(user=user, next_url=record.next_url if record else "", test_by=test_by)


def refusal_record(
    *, organization: Organization | None, code: str, ip_address: str | None, identity: str = ""
) -> None:
    """Audit a refused SSO response with its reason code."""
    target = None
    if organization is not None and identity:
        target = selectors.user_for_identity(organization=organization, identity=identity)
    audit_record(
        actor=Actor(user=None, label="anonymous", ip_address=ip_address),
        action=AuditEvent.Action.SSO_FAILED,
        outcome=AuditEvent.Outcome.FAILURE,
        organization=organization,
        target=target,
        target_label=(identity or "").encode("unicode_escape").decode()[:300],
        detail=code,
    )
