"""Single sign-on settings per organization, the AuthnRequests this service has sent (each bound
to the browser that started it) and the assertion IDs already used (docs/sso.md)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SsoConfig(models.Model):
    """One organization's identity provider. The metadata XML is stored as the admin gave it and
    is what pysaml2 loads on every request; the fields beside it are read from it (for the pages
    and the checks) when it is saved."""

    class MatchBy(models.TextChoices):
        NAME_ID = "name_id", _("NameID (email address format)")
        ATTRIBUTE = "attribute", _("An attribute")

    organization = models.OneToOneField(
        "users.Organization",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sso_config",
        verbose_name=_("organization"),
    )
    metadata_xml = models.TextField(_("identity provider metadata"))
    idp_entity_id = models.CharField(_("identity provider entity ID"), max_length=1024)
    sso_url = models.CharField(_("sign-in URL"), max_length=2048)
    # [{"fingerprint": sha256 hex, "subject": str, "not_after": ISO 8601}], from the metadata.
    certificates = models.JSONField(_("signing certificates"), default=list)
    # The IdP metadata's WantAuthnRequestsSigned.
    wants_signed_requests = models.BooleanField(default=False)
    match_by = models.CharField(
        _("match users by"), max_length=16, choices=MatchBy.choices, default=MatchBy.NAME_ID
    )
    match_attribute = models.CharField(_("attribute name"), max_length=255, blank=True)
    enabled = models.BooleanField(_("single sign-on"), default=False)
    require_sso = models.BooleanField(_("require single sign-on"), default=False)
    allow_idp_initiated = models.BooleanField(_("IdP-initiated sign-in"), default=False)
    break_glass = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=_("break-glass admins"),
    )
    # A successful test sign-in with exactly this metadata (its SHA-256): turning SSO on needs it.
    tested_metadata_sha256 = models.CharField(max_length=64, blank=True)
    tested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("single sign-on setting")
        verbose_name_plural = _("single sign-on settings")

    def __str__(self) -> str:
        return f"SSO of {self.organization_id}: {self.idp_entity_id}"


class AuthnRequestRecord(models.Model):
    """An AuthnRequest sent to the identity provider, waiting for its response. Bound to the
    browser that started it (a hash of a random value in its cookie), answered once, for a few
    minutes only; a test sign-in names the admin who ran it."""

    request_id = models.CharField(max_length=100, unique=True)
    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    browser_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    next_url = models.CharField(max_length=2000, blank=True)
    test_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["browser_hash"], name="sso_request_browser_idx")]

    def __str__(self) -> str:
        return self.request_id


class UsedAssertion(models.Model):
    """An assertion already consumed, kept until its NotOnOrAfter has passed: the same assertion
    presented again is a replay."""

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    assertion_id = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assertion_id"], name="sso_assertion_once"
            )
        ]
        indexes = [models.Index(fields=["expires_at"], name="sso_assertion_expiry_idx")]

    def __str__(self) -> str:
        return self.assertion_id
