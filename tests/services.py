"""Shorthands for tests that change one user through the change service (users.changes), in
the shapes the tests read best: the created user, the audit changes, whether anything changed."""

from users.changes import user_add, user_change, user_delete


def create_user(*, actor, organization, password=None, grants=None, **fields):
    return user_add(
        actor=actor, organization=organization, password=password, grants=grants, **fields
    ).user


def update_user(*, actor, user, data=None, grants=None, password=None) -> dict:
    return user_change(
        actor=actor, user=user, grants=grants, password=password, **(data or {})
    ).changes


def set_active(*, actor, user, active: bool) -> bool:
    return bool(user_change(actor=actor, user=user, is_active=active).changes)


__all__ = ["create_user", "set_active", "update_user", "user_delete"]
