from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MfaConfig(AppConfig):
    """Second factors (authenticator apps, passkeys, recovery codes), the per-organization
    requirement, and the sign-in step between the password and the session (docs/security.md).

    Sits between users (which hands sign-in over to it and shows MFA state) and audit; it imports
    accounts, permissions and audit only."""

    name = "mfa"
    verbose_name = _("2-step verification")
