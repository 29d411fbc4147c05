import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization

# Lengths of an identity provider group's name and external ID (Entra ID's and Okta's fit).
NAME_MAX_LENGTH = 255
EXTERNAL_ID_MAX_LENGTH = 255


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


class ScimGroup(models.Model):
    """A group the identity provider created (POST /Groups), beside the service groups
    (docs/scim.md "Groups"). It grants nothing: it is kept so that the identity provider's
    group push works and the admin sees which groups it sent.

    Its id is a UUID, so it can never collide with a service group's id (a service code).
    `name_key` is the display name in lower case: the name is unique per organization, case
    insensitively, through the index that also orders the list."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="scim_groups",
        verbose_name=_("organization"),
    )
    display_name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    name_key = models.CharField(max_length=NAME_MAX_LENGTH, editable=False)
    external_id = models.CharField(_("external ID"), max_length=EXTERNAL_ID_MAX_LENGTH, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ScimGroupMember",
        related_name="scim_groups",
        verbose_name=_("members"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    # meta.version and the ETag (W/"3"), raised by every change; If-Match is checked against it.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("identity provider group")
        verbose_name_plural = _("identity provider groups")
        ordering = ["name_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name_key"],
                name="scim_group_name_unique",
                violation_error_message=_("A group with this name already exists."),
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "external_id"], name="scim_group_external_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        self.name_key = name_key(self.display_name)
        super().save(*args, **kwargs)


class ScimGroupMember(models.Model):
    """A user in an identity provider's group; the organization is kept on the row so every
    query of memberships is scoped by it (docs/security.md)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_group_memberships"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("group member")
        verbose_name_plural = _("group members")
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="scim_group_member_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "user"], name="scim_group_member_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} ∋ {self.user_id}"


def name_key(display_name: str) -> str:
    return (display_name or "").strip().lower()
