from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScimConfig(AppConfig):
    """SCIM 2.0 provisioning (docs/scim.md): a channel beside the CSV import. It translates SCIM
    requests into changes for users.changes.apply_changes and the verdicts back into SCIM."""

    name = "scim"
    verbose_name = _("SCIM provisioning")

    def ready(self) -> None:
        # Django's documented place to connect signal receivers: a deleted user leaves the
        # identity provider's groups (scim.groups).
        from users.signals import user_deleted

        from .groups import drop_deleted_user

        def leave_groups(sender, user, **kwargs):
            return drop_deleted_user(user=user)

        user_deleted.connect(leave_groups, dispatch_uid="scim.leave_groups", weak=False)
