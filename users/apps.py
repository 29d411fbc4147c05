from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    """The User area: the change service every channel uses, the User List and user pages,
    sign-in views and the operators' commands. No models of its own (accounts has them)."""

    name = "users"
    label = "console"
    verbose_name = _("Users")
