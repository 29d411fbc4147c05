from axes.models import AccessAttempt
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .sessions import session_register
from .validators import normalize_login_id


@receiver(user_logged_in, dispatch_uid="users.register_session")
def _register_session(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_register(request=request, user=user)


@receiver(user_logged_in, dispatch_uid="users.reset_login_failures")
def _reset_login_failures(sender, request, user, **kwargs):
    """Success clears this login ID's failure count, and only this one's (see settings)."""
    AccessAttempt.objects.filter(username=normalize_login_id(user.login_id)).delete()
