from django.urls import path, re_path

from . import api

app_name = "scim"

# No trailing slashes: SCIM clients build these URLs themselves (RFC 7644 §3.2).
urlpatterns = [
    path("", api.root, name="root"),
    path("ServiceProviderConfig", api.service_provider_config, name="service_provider_config"),
    path("ResourceTypes", api.resource_types, name="resource_types"),
    path("ResourceTypes/<str:type_id>", api.resource_type, name="resource_type"),
    path("Schemas", api.schemas, name="schemas"),
    path("Schemas/<str:schema_id>", api.schema, name="schema"),
    path("Users", api.users, name="users"),
    path("Users/<str:user_id>", api.user, name="user"),
    path("Groups", api.groups, name="groups"),
    path("Groups/<str:group_id>", api.group, name="group"),
    re_path(r"^(?P<rest>.+)$", api.unknown, name="unknown"),
]
