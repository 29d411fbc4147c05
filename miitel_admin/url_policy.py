"""Every URL name with its access policy. tests/security/test_url_registry.py walks the URL
resolver and fails when a URL is missing here, then checks each one against its policy:
anonymous, member, another organization's admin, wrong method, missing CSRF token."""

from dataclasses import dataclass

PUBLIC = "public"  # anyone
SIGNED_IN = "signed_in"  # any signed-in user (a temporary password still forces its change)
ADMIN = "admin"  # signed-in admins of the organization; members get 403
# A bearer token of the organization (the SCIM API): without one, 401 whatever cookies come
# with the request, never the console's redirect to the sign-in page.
TOKEN = "token"  # noqa: S105 (an access kind, not a secret)


@dataclass(frozen=True)
class Policy:
    access: str
    methods: tuple[str, ...]
    # The organization-owned object named in the URL (fetched scoped: 404 for other tenants).
    scoped: str | None = None


POLICY: dict[str, Policy] = {
    "home": Policy(PUBLIC, ("GET",)),
    "login": Policy(PUBLIC, ("GET", "POST")),
    "healthz": Policy(PUBLIC, ("GET",)),
    "logout": Policy(SIGNED_IN, ("POST",)),
    "password_change": Policy(SIGNED_IN, ("GET", "POST")),
    "users:list": Policy(ADMIN, ("GET",)),
    "users:create": Policy(ADMIN, ("GET", "POST")),
    "users:edit": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:activate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:deactivate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:delete": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "audit:list": Policy(ADMIN, ("GET",)),
    "analytics:calls": Policy(ADMIN, ("GET",)),
    "analytics:dashboard": Policy(ADMIN, ("GET",)),
    "analytics:meetings": Policy(ADMIN, ("GET",)),
    "analytics:meeting": Policy(ADMIN, ("GET",), scoped="meeting"),
    "exports:export": Policy(ADMIN, ("GET", "POST")),
    "exports:import": Policy(ADMIN, ("GET", "POST")),
    "exports:import_detail": Policy(ADMIN, ("GET",), scoped="import_job"),
    "exports:import_status": Policy(ADMIN, ("GET",), scoped="import_job"),
    "exports:import_apply": Policy(ADMIN, ("POST",), scoped="import_job"),
    "exports:import_cancel": Policy(ADMIN, ("POST",), scoped="import_job"),
    "exports:import_passwords": Policy(ADMIN, ("POST",), scoped="import_job"),
    "provisioning:tokens": Policy(ADMIN, ("GET", "POST")),
    "provisioning:revoke": Policy(ADMIN, ("POST",), scoped="scim_token"),
    "scim:root": Policy(TOKEN, ("GET",)),
    "scim:service_provider_config": Policy(TOKEN, ("GET",)),
    "scim:resource_types": Policy(TOKEN, ("GET",)),
    "scim:resource_type": Policy(TOKEN, ("GET",)),
    "scim:schemas": Policy(TOKEN, ("GET",)),
    "scim:schema": Policy(TOKEN, ("GET",)),
    "scim:users": Policy(TOKEN, ("GET", "POST")),
    "scim:user": Policy(TOKEN, ("GET", "PUT", "PATCH", "DELETE")),
    "scim:groups": Policy(TOKEN, ("GET", "POST")),
    "scim:group": Policy(TOKEN, ("GET", "PUT", "PATCH", "DELETE")),
    "scim:unknown": Policy(TOKEN, ("GET", "POST", "PUT", "PATCH", "DELETE")),
}
