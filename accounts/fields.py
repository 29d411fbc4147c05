"""The user fields every channel shares (the add/edit form, the CSV import and export, the
operators' commands, SCIM), with their defaults for a new user. One definition: a channel maps
its own input (a form field, a CSV column, a command option, a SCIM attribute) onto these keys."""

from .validators import FIELD_LABELS

# Every field a person can set on a user, in the order forms and messages list them.
USER_FIELDS: tuple[str, ...] = (
    "login_id",
    "name",
    "locale",
    "time_zone",
    "role",
    "extension",
    "is_active",
)

# Fields that identity providers and schedules set besides those (not on the CSV).
EXTRA_FIELDS: tuple[str, ...] = ("external_id", "deactivate_at")

DEFAULT_TIME_ZONE = "Asia/Tokyo"
DEFAULT_LOCALE = "ja"
DEFAULT_ROLE = "member"

# What a new user gets for a field the channel did not give.
NEW_USER_DEFAULTS: dict[str, object] = {
    "locale": DEFAULT_LOCALE,
    "time_zone": DEFAULT_TIME_ZONE,
    "role": DEFAULT_ROLE,
    "extension": "",
    "is_active": True,
    "external_id": "",
    "deactivate_at": None,
}

__all__ = [
    "DEFAULT_LOCALE",
    "DEFAULT_ROLE",
    "DEFAULT_TIME_ZONE",
    "EXTRA_FIELDS",
    "FIELD_LABELS",
    "NEW_USER_DEFAULTS",
    "USER_FIELDS",
]
