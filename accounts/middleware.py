import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from .sessions import AUTH_AT_KEY, SEEN_AT_KEY, SIGN_IN_METHOD_KEY


class SessionTimeoutMiddleware:
    """Idle and absolute session timeouts (values in settings, documented in docs/security.md).

    The last-activity stamp is refreshed at most every ACTIVITY_RESOLUTION seconds, so a page
    view does not write the session row every time."""

    ACTIVITY_RESOLUTION = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            auth_at = session.get(AUTH_AT_KEY)
            seen_at = session.get(SEEN_AT_KEY, auth_at)
            if (
                auth_at is None
                or now - auth_at > settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS
                or now - seen_at > settings.SESSION_IDLE_TIMEOUT_SECONDS
            ):
                logout(request)
            elif now - seen_at >= self.ACTIVITY_RESOLUTION:
                session[SEEN_AT_KEY] = now
        return self.get_response(request)


class UserContextMiddleware:
    """The signed-in user's organization, language and time zone for the whole request.

    Anonymous requests (the sign-in page) keep the language LocaleMiddleware chose from the
    browser's Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            request.organization = user.organization
            translation.activate(user.locale)
            request.LANGUAGE_CODE = user.locale
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            request.organization = None
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ForcedPasswordChangeMiddleware:
    """A temporary password (every password an admin or operator sets) allows only the
    password change page, the language switch and sign-out until the user has chosen their
    own. A session signed in by single sign-on is not asked: its user signs in at the identity
    provider and may never have had the temporary password (docs/sso.md)."""

    allowed_url_names = ("password_change", "logout", "language")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if request.path_info.startswith(settings.TOKEN_API_PATH_PREFIXES):
            # A token-authenticated API answers for itself (401 without a token), never with
            # the console's pages.
            return self.get_response(request)
        if (
            user.is_authenticated
            and user.must_change_password
            and request.session.get(SIGN_IN_METHOD_KEY) != "sso"
        ):
            allowed = {reverse(name) for name in self.allowed_url_names}
            if request.path_info not in allowed:
                return redirect("password_change")
        return self.get_response(request)


class NoStoreMiddleware:
    """Pages for signed-in users hold personal data: no browser or proxy may cache them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated or request.path_info.startswith("/login"):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response
