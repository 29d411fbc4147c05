from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = _("Users")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks, signals  # noqa: F401  (registers system checks and receivers)

        post_migrate.connect(_reinstall_triggers, sender=self)


def _reinstall_triggers(sender, using="default", plan=None, **kwargs):
    """SQLite rebuilds a table for many schema changes, dropping its triggers: put the counter
    triggers back after every migrate (idempotent; a no-op when they are there)."""
    from django.db import connections

    from . import db_triggers

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if {"users_user", "users_seatcount", "permissions_servicegrant"} <= tables:
        missing = set(db_triggers.TRIGGER_NAMES[connection.vendor]) - db_triggers.installed(
            connection
        )
        if missing:
            db_triggers.install(connection)
            db_triggers.recount(connection)
