"""The sign-in steps between a correct password and a signed-in session.

    password (users.views.LoginView, django-axes)  ->  password_accepted()
        no factor, none required       ->  complete_sign_in() at once
        a factor                       ->  pending; the second-factor page (mfa:verify)
        an admin who must use MFA      ->  pending; enrolment (mfa:enrol)
    second factor (mfa.views)          ->  complete_sign_in()

While pending, the session holds only a marker (user, time, backend, where to go next): the user
is anonymous, so every console URL refuses them, and mfa.middleware.PendingSignInMiddleware sends
every URL but the sign-in steps to the second-factor page. complete_sign_in() is the one way in:
Django's login() (the session key rotates), the session linked to its user and the login ID's
failure count cleared (accounts.signals), the LOGIN audit record. SAML sign-in calls it too.

Second-factor failures count toward the same django-axes lockout as password failures: they are
reported with Django's user_login_failed signal under the login ID, as a failed password is."""

import time
from enum import Enum

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import login, user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.sessions import SIGN_IN_METHOD_KEY
from accounts.throttle import hash_slot
from audit.models import AuditEvent
from audit.services import Actor, audit_record, client_ip

from . import selectors

PENDING_KEY = "_mfa_pending"
# How the session was signed in: "password", "totp", "passkey", "recovery_code" or "sso".
METHOD_KEY = SIGN_IN_METHOD_KEY


class Step(Enum):
    VERIFY = "mfa:verify"
    ENROL = "mfa:enrol"


def next_step(*, user: User) -> Step | None:
    if selectors.has_mfa(user=user):
        return Step.VERIFY
    if selectors.mfa_required_for(user=user):
        return Step.ENROL
    return None


def password_accepted(request: HttpRequest, *, user: User, redirect_to: str) -> HttpResponse:
    """The password was right (and not locked out): sign in, or hand over to the second step."""
    step = next_step(user=user)
    if step is None:
        return redirect(
            complete_sign_in(request, user=user, method="password", next_url=redirect_to)
        )
    # A new key for the pending state too: a session ID planted before the password is useless.
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": int(time.time()),
        "backend": getattr(user, "backend", None),
        "next": redirect_to,
    }
    return redirect(step.value)


def _pending(request: HttpRequest) -> dict | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - data.get("at", 0) > settings.MFA_PENDING_TIMEOUT_SECONDS:
        return None
    return data


def has_pending(request: HttpRequest) -> bool:
    """A sign-in waits for its second step (reads the session only; no query of its own)."""
    return _pending(request) is not None


def pending_user(request: HttpRequest) -> User | None:
    """The user whose password was accepted in this session, while the marker is fresh and the
    user can still sign in; the marker is dropped otherwise."""
    data = _pending(request)
    user = None
    if data is not None:
        user = (
            User.objects.select_related("organization")
            .filter(pk=data.get("user"), is_active=True)
            .first()
        )
    if user is None:
        clear_pending(request)
    return user


def clear_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def complete_sign_in(
    request: HttpRequest,
    *,
    user: User,
    method: str,
    backend: str | None = None,
    next_url: str | None = None,
) -> str:
    """Sign `user` in now that every step is passed; returns where to go next."""
    pending = request.session.pop(PENDING_KEY, None) or {}
    backend = backend or pending.get("backend") or getattr(user, "backend", None)
    # login() rotates the session key (the pending marker goes with the old one) and sends
    # user_logged_in: accounts.signals links the session to the user and clears the login ID's
    # failure count. Only here, so a right password cannot reset the count of wrong codes.
    login(request, user, backend=backend)
    request.session[METHOD_KEY] = method
    sso = method == "sso"
    audit_record(
        actor=Actor.from_request(request),
        action=AuditEvent.Action.SSO_LOGIN if sso else AuditEvent.Action.LOGIN,
        organization=user.organization,
        target=user,
        detail="" if method == "password" or sso else f"2-step: {method}",
    )
    return next_url or pending.get("next") or settings.LOGIN_REDIRECT_URL


def signed_in_method(request: HttpRequest) -> str | None:
    return request.session.get(METHOD_KEY)


# --- Failures and the lockout -------------------------------------------------------------------


def _credentials(user: User) -> dict:
    return {"username": user.login_id}


def is_locked_out(request: HttpRequest, *, user: User) -> bool:
    """Whether django-axes holds this login ID (or this client IP) locked."""
    if not settings.AXES_ENABLED:
        return False
    return AxesProxyHandler.is_locked(request, _credentials(user))


def lockout_response(request: HttpRequest, *, user: User) -> HttpResponse:
    """The sign-in page's lockout answer (429), the pending sign-in dropped."""
    clear_pending(request)
    return get_lockout_response(request, None, _credentials(user))


def second_factor_failed(request: HttpRequest, *, user: User, detail: str) -> bool:
    """Record a wrong code, passkey or recovery code: audited, and counted by django-axes toward
    the login ID's lockout. Returns whether the login ID is now locked (django-axes' middleware
    then answers with the lockout page, and the pending sign-in is dropped)."""
    audit_record(
        actor=Actor(user=None, label="anonymous", ip_address=client_ip(request)),
        action=AuditEvent.Action.MFA_FAILED,
        outcome=AuditEvent.Outcome.FAILURE,
        organization=user.organization,
        target=user,
        detail=detail,
    )
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)
    locked = bool(getattr(request, "axes_locked_out", False))
    if locked:
        clear_pending(request)
    return locked


def password_recheck(request: HttpRequest, *, user: User, password: str) -> str | None:
    """Ask a signed-in user for their password again before a change to their sign-in methods.
    Returns the error to show, or None when the password is right. A wrong password counts
    toward the lockout like a wrong password at sign-in (a stolen session cannot guess it)."""
    if is_locked_out(request, user=user):
        return _("Too many failed attempts for your login ID. Try again in a few minutes.")
    with hash_slot():
        ok = user.check_password(password)
    if ok:
        return None
    audit_record(
        actor=Actor.from_request(request),
        action=AuditEvent.Action.LOGIN_FAILED,
        outcome=AuditEvent.Outcome.FAILURE,
        organization=user.organization,
        target=user,
        detail="password re-check",
    )
    user_login_failed.send(sender=__name__, credentials=_credentials(user), request=request)
    # The next re-check is refused by is_locked_out(); this answer stays the page's own (not
    # the sign-in page's lockout answer, which is for signing in).
    request.axes_locked_out = False
    return _("The password is incorrect.")
