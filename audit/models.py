from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        LOCKOUT = "lockout", _("Sign-in locked")
        LOGOUT = "logout", _("Signed out")
        PASSWORD_CHANGE = "password_change", _("Changed own password")
        ORGANIZATION_CREATE = "organization_create", _("Organization created")
        CONTRACT_CHANGE = "contract_change", _("Contract changed")
        USER_CREATE = "user_create", _("User added")
        USER_UPDATE = "user_update", _("User edited")
        USER_ACTIVATE = "user_activate", _("User activated")
        USER_DEACTIVATE = "user_deactivate", _("User deactivated")
        USER_DELETE = "user_delete", _("User deleted")
        PASSWORD_RESET = "password_reset", _("Temporary password set")
        PERMISSIONS_CHANGE = "permissions_change", _("Services changed")
        EXPORT = "export", _("User list exported")
        IMPORT = "import", _("Users imported")
        SCIM_TOKEN_CREATE = "scim_token_create", _("SCIM token created")
        SCIM_TOKEN_REVOKE = "scim_token_revoke", _("SCIM token revoked")

    class Channel(models.TextChoices):
        """How the change came: every channel writes through the same change service."""

        CONSOLE = "console", _("Console")
        OPERATOR = "operator", _("Operator command")
        IMPORT = "import", _("CSV import")
        SCIM = "scim", _("SCIM provisioning")
        SCHEDULE = "schedule", _("Schedule")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")

    organization = models.ForeignKey(
        "users.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who acted, as text: the admin's login ID, "operator:<command> (<os user>)" for manage.py
    # commands, a SCIM token's name.
    actor_label = models.CharField(_("actor"), max_length=300)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The target's login ID (or the organization's slug) at the time, kept after deletion.
    target_label = models.CharField(_("target"), max_length=300, blank=True)
    # {field: [before, after]}; never a password or a hash.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    # The target user's version after this change (users.changes): what a stale edit, form
    # or SCIM request missed is read from here.
    target_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_time_idx"),
            models.Index(fields=["organization", "target"], name="audit_org_target_idx"),
            models.Index(fields=["target", "target_version"], name="audit_target_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
