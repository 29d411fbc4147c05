from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization


class ScimTokenQuerySet(models.QuerySet):
    def live(self) -> "ScimTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class ScimToken(models.Model):
    """A bearer token an identity provider uses for one organization.

    Only the SHA-256 of the token is stored: a token is 256 random bits, so a fast hash is
    enough (no dictionary to guess from) and a database dump reveals no usable token. The
    first characters (`prefix`) are kept in clear so an admin can tell tokens apart.

    The per-token request counter lives here too, in the database every app server shares,
    so the rate holds across gunicorn workers and machines (scim.tokens.throttle)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="scim_tokens",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("token prefix"), max_length=16, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # The operator command that created it (created_by is then empty).
    created_by_label = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # The current throttle window (minutes since the epoch) and the requests counted in it.
    window = models.BigIntegerField(default=0, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)

    objects = ScimTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("SCIM token")
        verbose_name_plural = _("SCIM tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                condition=Q(revoked_at__isnull=True),
                name="scim_token_name_unique_live",
                violation_error_message=_("A token with this name already exists."),
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="scim_token_org_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
