"""Second factors and the organization's MFA requirement, in tables of their own."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

FACTOR_NAME_MAX_LENGTH = 50


class OrganizationPolicy(models.Model):
    """An organization's sign-in rules for MFA. No row means the defaults (nothing required)."""

    organization = models.OneToOneField(
        "users.Organization",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="mfa_policy",
    )
    admins_must_use_mfa = models.BooleanField(
        _("admins must use 2-step verification"), default=False
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("2-step verification policy")
        verbose_name_plural = _("2-step verification policies")

    def __str__(self) -> str:
        return f"{self.organization_id}: admins_must_use_mfa={self.admins_must_use_mfa}"


class TOTPDevice(models.Model):
    """An authenticator app (RFC 6238: SHA-1, 6 digits, 30-second steps, what every app reads
    from the QR code)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices"
    )
    name = models.CharField(_("name"), max_length=FACTOR_NAME_MAX_LENGTH)
    # The base32 secret, encrypted (mfa.crypto): it must be read in clear to verify a code.
    secret = models.TextField(editable=False)
    # The RFC 6238 time step of the last accepted code: a code of this step or an earlier one
    # is refused, so a code cannot be replayed within its window (RFC 6238 §5.2).
    last_step = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user"], name="mfa_totp_user_idx")]

    def __str__(self) -> str:
        return self.name


class WebAuthnCredential(models.Model):
    """A passkey or security key (WebAuthn Level 2/3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webauthn_credentials"
    )
    name = models.CharField(_("name"), max_length=FACTOR_NAME_MAX_LENGTH)
    # base64url of the raw credential ID (at most 1,023 bytes by the specification).
    credential_id = models.CharField(max_length=1400, unique=True, editable=False)
    # The COSE public key as the authenticator sent it.
    public_key = models.BinaryField(editable=False)
    # The authenticator's signature counter: a response that does not raise it (when either
    # value is non-zero) is refused, the sign of a cloned authenticator.
    sign_count = models.BigIntegerField(default=0, editable=False)
    transports = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user"], name="mfa_webauthn_user_idx")]

    def __str__(self) -> str:
        return self.name


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a keyed hash (mfa.crypto.recovery_code_hashes)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="mfa_recovery_unique"),
        ]

    def __str__(self) -> str:
        return f"recovery code of user {self.user_id}"
