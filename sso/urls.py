from django.urls import path

from . import views

app_name = "sso"

urlpatterns = [
    # Public: the sign-in start, and per organization the ACS and the SP metadata.
    path("sso/", views.start, name="start"),
    path("sso/<slug:slug>/acs/", views.acs, name="acs"),
    path("sso/<slug:slug>/metadata/", views.sp_metadata, name="metadata"),
    # Admins: the Single sign-on page.
    path("organization/sso/", views.settings_page, name="settings"),
    path("organization/sso/options/", views.options, name="options"),
    path("organization/sso/test/", views.test_sign_in, name="test"),
]
