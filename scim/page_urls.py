from django.urls import path

from . import views

app_name = "provisioning"

urlpatterns = [
    path("", views.provisioning, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.revoke, name="revoke"),
]
