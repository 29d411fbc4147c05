import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ChangeBatch(models.Model):
    """Changes made together: a bulk action on the User List (or its undo), or a run of the
    scheduled deactivations. Its members are the audit events that point at it; a batch other
    than a deletion can be undone, as a batch of its own, for UNDO_DAYS."""

    UNDO_DAYS = 7

    class Kind(models.TextChoices):
        DEACTIVATE = "deactivate", _("Deactivate")
        ACTIVATE = "activate", _("Activate")
        GRANT = "grant", _("Grant a service")
        REVOKE = "revoke", _("Revoke a service")
        DELETE = "delete", _("Delete")
        SCHEDULE = "schedule", _("Scheduled deactivation")
        UNDO = "undo", _("Undo")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    # What the kind acts with: the service code of a grant or a revoke.
    detail = models.CharField(_("detail"), max_length=64, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=300)
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    size = models.PositiveIntegerField(_("users"), default=0)
    undo_of = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="undone_by"
    )

    class Meta:
        verbose_name = _("change batch")
        verbose_name_plural = _("change batches")
        indexes = [models.Index(fields=["organization", "-created_at"], name="batch_org_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} ×{self.size} ({self.pk})"

    @property
    def undoable_until(self):
        return self.created_at + timedelta(days=self.UNDO_DAYS)


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
        SESSIONS_END = "sessions_end", _("Signed out everywhere")
        MFA_ENROLL = "mfa_enroll", _("2-step verification method added")
        MFA_REMOVE = "mfa_remove", _("2-step verification method removed")
        MFA_RESET = "mfa_reset", _("2-step verification reset")
        MFA_FAILED = "mfa_failed", _("2-step verification failed")
        MFA_RECOVERY_USED = "mfa_recovery_used", _("Signed in with a recovery code")
        MFA_RECOVERY_NEW = "mfa_recovery_new", _("Recovery codes regenerated")
        MFA_REQUIRED_ON = "mfa_required_on", _("2-step verification required for admins")
        MFA_REQUIRED_OFF = "mfa_required_off", _("2-step verification no longer required")
        SCIM_TOKEN_CREATE = "scim_token_create", _("SCIM token created")
        SCIM_TOKEN_REVOKE = "scim_token_revoke", _("SCIM token revoked")
        SSO_LOGIN = "sso_login", _("Signed in with single sign-on")
        SSO_FAILED = "sso_failed", _("Single sign-on refused")
        SSO_SETTINGS = "sso_settings", _("Single sign-on settings changed")
        SSO_TEST = "sso_test", _("Single sign-on test sign-in")
        SCIM_GROUP_CREATE = "scim_group_create", _("Group created by the identity provider")
        SCIM_GROUP_UPDATE = "scim_group_update", _("Group changed by the identity provider")
        SCIM_GROUP_DELETE = "scim_group_delete", _("Group deleted by the identity provider")

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
    # The batch this change was part of (bulk actions, their undo, scheduled deactivations).
    batch = models.ForeignKey(
        ChangeBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )

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
