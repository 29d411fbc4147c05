"""Reads of MFA state."""

from dataclasses import dataclass

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import Organization, User

from . import recovery
from .models import OrganizationPolicy, RecoveryCode, TOTPDevice, WebAuthnCredential


def has_mfa(*, user: User) -> bool:
    """Whether `user` has a second factor (an authenticator app or a passkey; recovery codes
    are a fallback, not a factor of their own)."""
    return (
        TOTPDevice.objects.filter(user=user).exists()
        or WebAuthnCredential.objects.filter(user=user).exists()
    )


def has_mfa_annotation() -> ExpressionWrapper:
    """`has_mfa` as a column of a User query (the User List's page query: one statement)."""
    return ExpressionWrapper(
        Q(Exists(TOTPDevice.objects.filter(user=OuterRef("pk"))))
        | Q(Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk")))),
        output_field=BooleanField(),
    )


def has_mfa_sql() -> RawSQL:
    """has_mfa_annotation() as constant SQL: the User List's page query, which is built for
    every page (an ORM expression tree of two EXISTS cost more to build than to run)."""
    user = User._meta.db_table
    # Constant SQL (table names from the models, no input): reviewed in
    # tests/security/test_url_registry.py ALLOWLIST.
    return RawSQL(  # noqa: S611
        f"(EXISTS (SELECT 1 FROM {TOTPDevice._meta.db_table} t WHERE t.user_id = {user}.id) "  # noqa: S608
        f"OR EXISTS (SELECT 1 FROM {WebAuthnCredential._meta.db_table} w "
        f"WHERE w.user_id = {user}.id))",
        (),
        output_field=BooleanField(),
    )


def admins_must_use_mfa(*, organization_id: int) -> bool:
    return OrganizationPolicy.objects.filter(
        organization_id=organization_id, admins_must_use_mfa=True
    ).exists()


def policy_of(*, organization: Organization) -> OrganizationPolicy:
    """The organization's policy (the defaults, unsaved, when it has never been set)."""
    return OrganizationPolicy.objects.filter(organization=organization).first() or (
        OrganizationPolicy(organization=organization)
    )


def mfa_required_for(*, user: User) -> bool:
    """Whether `user` must have a second factor: an admin of an organization that requires MFA
    for admins."""
    return user.is_admin and admins_must_use_mfa(organization_id=user.organization_id)


def admins_without_mfa(*, organization: Organization) -> QuerySet[User]:
    return (
        User.objects.filter(organization=organization, role=User.Role.ADMIN, is_active=True)
        .annotate(mfa_on=has_mfa_annotation())
        .filter(mfa_on=False)
        .order_by("name", "id")
    )


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@dataclass(frozen=True)
class Factors:
    totp: list[TOTPDevice]
    passkeys: list[WebAuthnCredential]
    recovery_left: int

    @property
    def count(self) -> int:
        return len(self.totp) + len(self.passkeys)

    @property
    def enabled(self) -> bool:
        return self.count > 0

    @property
    def recovery_low(self) -> bool:
        return self.recovery_left < recovery.LOW


def factors_of(*, user: User) -> Factors:
    return Factors(
        totp=list(TOTPDevice.objects.filter(user=user).defer("secret")),
        passkeys=list(
            WebAuthnCredential.objects.filter(user=user).only(
                "id", "user_id", "name", "created_at", "last_used_at"
            )
        ),
        recovery_left=recovery_codes_left(user=user),
    )
