from django.urls import path

from . import views

app_name = "mfa"

urlpatterns = [
    # Sign-in steps, between the password and a signed-in session.
    path("login/verify/", views.verify, name="verify"),
    path("login/verify/passkey/", views.verify_passkey, name="verify_passkey"),
    path("login/verify/recovery/", views.verify_recovery, name="verify_recovery"),
    path("login/enrol/", views.enrol, name="enrol"),
    path("login/enrol/passkey/", views.enrol_passkey, name="enrol_passkey"),
    # The signed-in user's own methods.
    path("account/security/", views.security, name="security"),
    path("account/security/totp/", views.totp_add, name="totp_add"),
    path("account/security/passkey/", views.passkey_add, name="passkey_add"),
    path("account/security/totp/<int:factor_id>/remove/", views.totp_remove, name="totp_remove"),
    path(
        "account/security/passkey/<int:factor_id>/remove/",
        views.passkey_remove,
        name="passkey_remove",
    ),
    path(
        "account/security/recovery-codes/",
        views.recovery_regenerate,
        name="recovery_regenerate",
    ),
    # Admins.
    path("users/<int:user_id>/mfa/reset/", views.reset, name="reset"),
    path("organization/security/", views.policy, name="policy"),
]
