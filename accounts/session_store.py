"""SESSION_ENGINE: Django's database sessions, taking only a session key it could have issued.

A key comes from the client's cookie and is looked up as is. Django's own check is a length of
at least 8, so a key holding a NUL (a quoted cookie value may write one as "\\000") reached
PostgreSQL, which refuses NUL in text: every page answered 500. Django issues 32 lowercase
letters and digits; a cookie holding anything else is treated as no session at all, as an
unknown key already is (the sign-in page, a new session)."""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

_KEY_CHARS = frozenset(VALID_KEY_CHARS)
# django_session.session_key is a varchar(40).
_KEY_MAX_LENGTH = 40


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key) -> bool:
        return (
            bool(super()._validate_session_key(key))
            and len(key) <= _KEY_MAX_LENGTH
            and _KEY_CHARS.issuperset(key)
        )
