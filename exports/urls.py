from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("export/", views.export_users, name="export"),
    path("import/", views.import_upload, name="import"),
    path("import/<uuid:job_id>/", views.import_detail, name="import_detail"),
    path("import/<uuid:job_id>/status/", views.import_status, name="import_status"),
    path("import/<uuid:job_id>/apply/", views.import_apply, name="import_apply"),
    path("import/<uuid:job_id>/cancel/", views.import_cancel, name="import_cancel"),
    path("import/<uuid:job_id>/passwords/", views.import_passwords, name="import_passwords"),
]
