"""What the add and edit user forms post, for the tests that drive them."""

from accounts.models import User
from permissions.services import field_name, grants_of

NEW_PASSWORD = "Kx7#pq92Lm"


def new_user_data(**overrides) -> dict:
    data = {
        "login_id": "new.user@a.example.com",
        "name": "New User",
        "password": NEW_PASSWORD,
        "locale": "ja",
        "time_zone": "Asia/Tokyo",
        "role": "member",
        "extension": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(user: User, **overrides) -> dict:
    """What the edit form posts back unchanged, with `overrides` (None removes a key)."""
    data = {
        "login_id": user.login_id,
        "name": user.name,
        "password": "",
        "locale": user.locale,
        "time_zone": user.time_zone,
        "role": user.role,
        "extension": user.extension,
        "is_active": "on" if user.is_active else None,
    }
    for code, level in grants_of(user).items():
        data[field_name(code)] = level or "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
