"""Sessions findable per user: recorded at sign-in, deleted when a user is deactivated, deleted
or given a new password by an admin."""

import time

from django.contrib.sessions.models import Session

from .backends import client_ip
from .models import User, UserSession

AUTH_AT_KEY = "_auth_at"
SEEN_AT_KEY = "_seen_at"
# How the session was signed in (mfa.flow): "password", "totp", "passkey", "recovery_code", "sso".
SIGN_IN_METHOD_KEY = "_mfa_method"


def session_register(*, request, user: User, signed_in: bool = True) -> None:
    """Link the request's (just rotated) session to `user`; at sign-in, stamp the time the
    absolute timeout counts from (a key rotated by a password change keeps it)."""
    session = request.session
    now = int(time.time())
    if signed_in or AUTH_AT_KEY not in session:
        session[AUTH_AT_KEY] = now
    session[SEEN_AT_KEY] = now
    session.save()  # the row must exist before the link points at it
    agent = request.META.get("HTTP_USER_AGENT", "")
    UserSession.objects.update_or_create(
        session_id=session.session_key,
        defaults={
            "user": user,
            "ip_address": client_ip(request),
            "user_agent": "".join(ch for ch in agent if ch.isprintable())[:300],
        },
    )


def user_sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """Delete every session row of `user` (but `keep_session_key`); returns how many."""
    return users_sessions_end(user_ids=[user.pk], keep_session_key=keep_session_key)


def users_sessions_end(*, user_ids, keep_session_key: str | None = None) -> int:
    """Delete every session row of these users (but `keep_session_key`); returns how many."""
    links = UserSession.objects.filter(user_id__any_of=list(user_ids))
    if keep_session_key:
        links = links.exclude(session_id=keep_session_key)
    _, per_model = Session.objects.filter(session_key__in=links.values("session_id")).delete()
    # The total would also count the links the cascade removed.
    return per_model.get(Session._meta.label, 0)
