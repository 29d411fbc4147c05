"""Reads of single sign-on state."""

import hashlib

from django.utils import timezone

from accounts.models import Organization, User
from accounts.validators import normalize_login_id
from mfa import selectors as mfa_selectors

from .models import AuthnRequestRecord, SsoConfig


def config_of(*, organization: Organization) -> SsoConfig | None:
    return SsoConfig.objects.filter(organization=organization).first()


def metadata_digest(xml: str) -> str:
    return hashlib.sha256(xml.encode()).hexdigest()


def is_tested(config: SsoConfig) -> bool:
    """A test sign-in succeeded with the metadata stored now."""
    return bool(config.tested_metadata_sha256) and (
        config.tested_metadata_sha256 == metadata_digest(config.metadata_xml)
    )


def organization_for_sign_in(*, login_id: str = "", slug: str = "") -> Organization | None:
    """The organization a visitor of the SSO sign-in names, by a login ID of theirs or by its
    slug; None when there is none or it has no single sign-on turned on."""
    organization = None
    if login_id:
        key = normalize_login_id(login_id)[:300]
        user = User.objects.select_related("organization").filter(login_id_key=key).first()
        organization = user.organization if user is not None else None
    elif slug:
        organization = Organization.objects.filter(slug=slug[:50]).first()
    if (
        organization is None
        or not SsoConfig.objects.filter(organization=organization, enabled=True).exists()
    ):
        return None
    return organization


def break_glass_admins(*, config: SsoConfig) -> list[User]:
    return list(
        config.break_glass.filter(
            organization_id=config.organization_id, role=User.Role.ADMIN, is_active=True
        ).order_by("name", "pk")
    )


def is_break_glass(*, user: User) -> bool:
    return SsoConfig.objects.filter(organization_id=user.organization_id, break_glass=user).exists()


def password_sign_in_refused(*, user: User) -> bool:
    """Require SSO is on for the user's organization and the user is not one of its break-glass
    admins with 2-step verification (docs/sso.md, "Require SSO")."""
    config = SsoConfig.objects.filter(
        organization_id=user.organization_id, enabled=True, require_sso=True
    ).first()
    if config is None:
        return False
    if user.is_admin and config.break_glass.filter(pk=user.pk).exists():
        return not mfa_selectors.has_mfa(user=user)
    return True


def sso_required_for_organization(*, organization: Organization) -> bool:
    return SsoConfig.objects.filter(
        organization=organization, enabled=True, require_sso=True
    ).exists()


def outstanding(*, organization: Organization, browser_hash: str) -> dict[str, str]:
    """The unanswered, unexpired AuthnRequests this browser made to this organization's IdP:
    {request ID: where to go after}."""
    if not browser_hash:
        return {}
    rows = AuthnRequestRecord.objects.filter(
        organization=organization, browser_hash=browser_hash, expires_at__gt=timezone.now()
    ).values_list("request_id", "next_url")
    return dict(rows)


def user_for_identity(*, organization: Organization, identity: str) -> User | None:
    """The organization's active, not deleted user whose login ID is `identity`, compared
    case-insensitively; never a user of another organization."""
    key = normalize_login_id(identity or "")
    if not key or len(key) > 254:
        return None
    return (
        User.objects.select_related("organization")
        .filter(organization=organization, login_id_key=key, is_active=True)
        .first()
    )
