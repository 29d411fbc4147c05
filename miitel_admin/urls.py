from django.urls import include, path

from exports import audit_views
from users import views as user_views
from users import views_account

from . import views

urlpatterns = [
    path("", user_views.home, name="home"),
    path("login/", user_views.LoginView.as_view(), name="login"),
    path("logout/", user_views.LogoutView.as_view(), name="logout"),
    path("password/change/", user_views.password_change, name="password_change"),
    path("language/", views_account.language_switch, name="language"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("mfa.urls")),
    path("", include("sso.urls")),
    path("users/", include("exports.urls")),
    path("users/", include("users.urls")),
    path("audit/export/", audit_views.audit_export, name="audit_export"),
    path("audit/batches/", include("users.batch_urls")),
    path("audit/", include("audit.urls")),
    path("provisioning/", include("scim.page_urls")),
    path("scim/v2/", include("scim.urls")),
    path("", include("analytics.urls")),
]

handler400 = "miitel_admin.views.bad_request"
handler403 = "miitel_admin.views.permission_denied"
handler404 = "miitel_admin.views.page_not_found"
handler500 = "miitel_admin.views.server_error"
