from django.urls import path

from . import bulk_views, detail_views, views

app_name = "users"

urlpatterns = [
    path("", views.user_list, name="list"),
    path("new/", views.user_create, name="create"),
    path("<int:user_id>/", detail_views.user_detail, name="detail"),
    path("<int:user_id>/sign-out/", detail_views.user_sign_out, name="sign_out"),
    path(
        "<int:user_id>/schedule/cancel/",
        detail_views.user_cancel_schedule,
        name="cancel_schedule",
    ),
    path("<int:user_id>/edit/", views.user_edit, name="edit"),
    path("<int:user_id>/activate/", views.user_activate, name="activate"),
    path("<int:user_id>/deactivate/", views.user_deactivate, name="deactivate"),
    path("<int:user_id>/delete/", views.user_delete, name="delete"),
    path("bulk/", bulk_views.bulk_confirm, name="bulk"),
    path("bulk/apply/", bulk_views.bulk_apply, name="bulk_apply"),
]
