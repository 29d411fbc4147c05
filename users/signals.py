from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .sessions import session_register


@receiver(user_logged_in, dispatch_uid="users.register_session")
def _register_session(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_register(request=request, user=user)
