from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """The lowest layer: organizations, contracts, users, sign-in plumbing (docs/architecture.md).

    Its label stays "users", the label these models were first deployed under: the tables
    (users_user, ...), the migration history and AUTH_USER_MODEL = "users.User" are unchanged."""

    name = "accounts"
    label = "users"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Django's documented place to register system checks, signal receivers and lookups
        # (batching: field__any_of).
        from . import batching, checks, signals  # noqa: F401
