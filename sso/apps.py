from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SsoConfig(AppConfig):
    """SAML 2.0 single sign-on per organization (docs/sso.md): the identity provider's metadata,
    the sign-in round trip through pysaml2, "require SSO" with break-glass admins.

    Sits between users (whose sign-in page offers SSO and whose password path asks it whether
    password sign-in is allowed) and mfa (whose complete_sign_in() it calls); it imports
    accounts, audit and mfa only."""

    name = "sso"
    label = "sso"
    verbose_name = _("Single sign-on")
