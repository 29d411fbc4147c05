from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScimConfig(AppConfig):
    """SCIM 2.0 provisioning (docs/scim.md): a channel beside the CSV import. It translates SCIM
    requests into changes for users.changes.apply_changes and the verdicts back into SCIM."""

    name = "scim"
    verbose_name = _("SCIM provisioning")
