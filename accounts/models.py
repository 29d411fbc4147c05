from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from .fields import DEFAULT_TIME_ZONE
from .validators import USER_NAME_MAX_LENGTH, normalize_login_id, validate_organization_name


class Organization(models.Model):
    """A tenant. Its contract (seats and services) lives in `Contract`, one row per organization,
    and that row is what seat-changing transactions lock."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    # The time zone of the organization's own times: a scheduled deactivation is entered and
    # shown in it, whoever sets it (docs/rules.md).
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_TIME_ZONE)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Length and blank are the field's own checks; only a non-blank name gets here too.
        if self.name:
            try:
                validate_organization_name(self.name)
            except ValidationError as error:
                raise ValidationError({"name": error}) from None


class Contract(models.Model):
    """What the organization has bought. Only operators change it (`set_contract`)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="contract"
    )
    user_limit = models.PositiveIntegerField(_("user limit"))
    # Codes from permissions.catalog; validated by permissions.contracts.
    services = models.JSONField(_("contracted services"), default=list, blank=True)
    # {service code: seat limit} for seat-limited services (MiiTel Phone).
    service_limits = models.JSONField(_("per-service seat limits"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.user_limit} users"

    def has_service(self, code: str) -> bool:
        return code in self.services

    def seat_limit(self, code: str) -> int | None:
        limit = self.service_limits.get(code)
        return int(limit) if limit is not None else None


class UserQuerySet(models.QuerySet):
    def available(self) -> "UserQuerySet":
        """Users that pickers and filters may offer: active, not deleted."""
        return self.filter(is_active=True, deleted_at__isnull=True)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    """The default manager: tombstones (deleted users) are hidden from every query through it.
    History rows keep pointing at them through foreign keys (the base manager sees them)."""

    use_in_migrations = True

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)

    def get_by_natural_key(self, username):
        return self.get(login_id_key=normalize_login_id(username))


class AllUsersManager(models.Manager.from_queryset(UserQuerySet)):
    pass


class User(AbstractBaseUser):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")

    class Locale(models.TextChoices):
        JAPANESE = "ja", _("Japanese")
        ENGLISH = "en", _("English")

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="users", verbose_name=_("organization")
    )
    login_id = models.CharField(_("login ID"), max_length=254, blank=True)
    # normalize_login_id(login_id): what uniqueness and sign-in lookups use (an exact match that
    # an index serves on PostgreSQL and SQLite alike). Empty once the user is deleted.
    login_id_key = models.CharField(max_length=254, blank=True, editable=False)
    name = models.CharField(_("user name"), max_length=USER_NAME_MAX_LENGTH)
    locale = models.CharField(
        _("locale"), max_length=2, choices=Locale.choices, default=Locale.JAPANESE
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_TIME_ZONE)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    extension = models.CharField(_("extension number"), max_length=6, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    must_change_password = models.BooleanField(_("must change password"), default=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # How many services the User List shows as granted (those without levels): kept by a
    # database trigger on permissions_servicegrant (migration users 0006) so the list can sort
    # on it through an index. Never written by Django (see save()).
    service_count = models.PositiveSmallIntegerField(db_default=0, editable=False)
    # Raised by every change the change service writes (fields or services). A form, a
    # confirmation page or a SCIM client (ETag / If-Match) names the version it saw, and a
    # change made over a newer one is refused instead of silently undoing it.
    version = models.PositiveIntegerField(default=1, editable=False)
    # When the task worker deactivates the user (scheduled deactivation), if set.
    deactivate_at = models.DateTimeField(_("deactivate at"), null=True, blank=True)
    # The identity provider's own ID for this user (SCIM externalId), if provisioned by one.
    external_id = models.CharField(_("external ID"), max_length=255, blank=True)

    objects = UserManager()
    all_objects = AllUsersManager()

    USERNAME_FIELD = "login_id"
    EMAIL_FIELD = None
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=["login_id_key"],
                condition=Q(deleted_at__isnull=True),
                name="users_login_id_key_unique_live",
                violation_error_message=_("This login ID is already in use."),
            ),
            models.UniqueConstraint(
                fields=["organization", "extension"],
                condition=Q(deleted_at__isnull=True) & ~Q(extension=""),
                name="users_extension_unique_in_org",
                violation_error_message=_(
                    "This extension number is already used in your organization."
                ),
            ),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "member"]), name="users_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True) | Q(login_id="", login_id_key=""),
                name="users_deleted_have_no_login_id",
            ),
        ]
        indexes = [
            # The User List: every page is scoped to one organization, hides tombstones and is
            # sorted; partial indexes also give index-only seat counts.
            models.Index(
                fields=["organization", "name", "id"],
                name="users_org_name_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "login_id_key", "id"],
                name="users_org_login_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "extension", "name", "id"],
                name="users_org_ext_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "role", "name", "id"],
                name="users_org_role_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "-is_active", "name", "id"],
                name="users_org_status_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "service_count", "name", "id"],
                name="users_org_services_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["organization", "external_id"],
                name="users_org_external_idx",
                condition=Q(deleted_at__isnull=True) & ~Q(external_id=""),
            ),
            models.Index(
                fields=["deactivate_at"],
                name="users_deactivate_at_idx",
                condition=Q(deleted_at__isnull=True, deactivate_at__isnull=False),
            ),
            # users_org_idle_idx (the idle filter) is created per database by migration 0009:
            # PostgreSQL's has non-key columns and statistics on its expression.
            # users_org_lastlogin_idx (last_login ASC NULLS FIRST) is created per database by
            # migration 0007: SQLite has no NULLS FIRST in index definitions.
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        self.login_id_key = normalize_login_id(self.login_id) if self.deleted_at is None else ""
        if not self._state.adding and kwargs.get("update_fields") is None:
            # A full save must not write back a stale trigger-kept count.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "service_count"
            ]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "login_id" in update_fields:
            kwargs["update_fields"] = {*update_fields, "login_id_key"}
        super().save(*args, **kwargs)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def display_name(self) -> str:
        """The name as history shows it: `<name> (Deleted)` once the user is deleted."""
        if self.deleted_at is not None:
            return pgettext("deleted user", "%(name)s (Deleted)") % {"name": self.name}
        return self.name

    # Django's auth machinery asks for these; there is no Django admin site for tenants.
    is_staff = False
    is_superuser = False

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name


class UserSession(models.Model):
    """Which session belongs to whom, filled at sign-in, so that deactivation, deletion and a
    password reset can delete the user's session rows at once (Django keeps no such index).
    A link goes with its session row (expiry, logout, key rotation)."""

    session = models.OneToOneField(
        "sessions.Session", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_links"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Where the session was started from, for the user page's list of active sessions.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user"], name="users_session_user_idx")]

    def __str__(self) -> str:
        return f"session of user {self.user_id}"
