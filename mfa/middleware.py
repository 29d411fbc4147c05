from django.shortcuts import redirect
from django.urls import reverse

from . import flow


class PendingSignInMiddleware:
    """Between the password and the second factor only the sign-in steps answer: every other
    URL (the console, the CSV export, the security page) sends the browser to the second-factor
    page. The user is not signed in yet either, so the console's own checks refuse them too;
    this makes the way forward the only way, and keeps it the same for every URL."""

    allowed_url_names = (
        "login",
        "logout",
        "healthz",
        "mfa:verify",
        "mfa:verify_passkey",
        "mfa:verify_recovery",
        "mfa:enrol",
        "mfa:enrol_passkey",
    )

    def __init__(self, get_response):
        self.get_response = get_response
        self._allowed = None

    def __call__(self, request):
        if not request.user.is_authenticated and flow.has_pending(request):
            if self._allowed is None:
                self._allowed = frozenset(reverse(name) for name in self.allowed_url_names)
            if request.path_info not in self._allowed:
                return redirect("mfa:verify")
        return self.get_response(request)
