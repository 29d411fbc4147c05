from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("calls/", views.call_history, name="calls"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("meetings/", views.meeting_list, name="meetings"),
    path("meetings/<int:meeting_id>/", views.meeting_detail, name="meeting"),
]
