import ipaddress

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import Sum
from django.utils import timezone

from .models import User
from .throttle import hash_slot
from .validators import LOGIN_ID_MAX_LENGTH, normalize_login_id


def client_ip(request) -> str | None:
    """The client's address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT."""
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


def axes_username(request, credentials) -> str | None:
    """django-axes counts failures per normalised login ID (it is unique across organizations)."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username")
    if raw is None:
        return None
    return normalize_login_id(str(raw).replace("\x00", ""))[: LOGIN_ID_MAX_LENGTH + 1]


def axes_failure_limit(request, credentials) -> int:
    """django-axes locks when max(failures of this login ID, failures of this IP) reaches the
    returned limit. Answering the login-ID limit once that counter has reached it, and the
    higher IP limit otherwise, gives each counter its own limit."""
    user_limit = settings.LOGIN_FAILURE_LIMIT
    username = axes_username(request, credentials)
    if username is not None:
        failures = (
            AccessAttempt.objects.filter(
                username=username,
                attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME,
            ).aggregate(n=Sum("failures_since_start"))["n"]
            or 0
        )
        if failures >= user_limit:
            return user_limit
    return max(settings.LOGIN_IP_FAILURE_LIMIT, user_limit)


class LoginIdBackend(ModelBackend):
    """Sign-in by login ID, matched case-insensitively through the stored normalised key.

    Keeps ModelBackend's two protections: an unknown login ID still runs one password hash (no
    timing difference), and inactive users are refused at sign-in and on every later request.
    Deleted users are invisible to the default manager, so they are refused the same way.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        key = normalize_login_id(str(username))
        user = None
        if len(key) <= LOGIN_ID_MAX_LENGTH and "\x00" not in key:
            user = User.objects.select_related("organization").filter(login_id_key=key).first()
        with hash_slot():
            if user is None:
                User().set_password(password)  # the same cost as a real check
                return None
            valid = user.check_password(password)
        if valid and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        try:
            user = User.objects.select_related("organization", "organization__contract").get(
                pk=user_id
            )
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
