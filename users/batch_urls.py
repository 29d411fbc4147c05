from django.urls import path

from . import batch_views

app_name = "batches"

urlpatterns = [
    path("<uuid:batch_id>/", batch_views.batch_detail, name="detail"),
    path("<uuid:batch_id>/undo/", batch_views.batch_undo, name="undo"),
]
