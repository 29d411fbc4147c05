"""Every URL name with its access policy. tests/security/test_url_registry.py walks the URL
resolver and fails when a URL is missing here, then checks each one against its policy:
anonymous, member, another organization's admin, wrong method, missing CSRF token."""

from dataclasses import dataclass

PUBLIC = "public"  # anyone
SIGNED_IN = "signed_in"  # any signed-in user (a temporary password still forces its change)
ADMIN = "admin"  # signed-in admins of the organization; members get 403


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
    # The header's language switch: the signed-in user's own locale, or a cookie before sign-in.
    "language": Policy(PUBLIC, ("POST",)),
    "users:list": Policy(ADMIN, ("GET",)),
    "users:create": Policy(ADMIN, ("GET", "POST")),
    "users:edit": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:activate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:deactivate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:delete": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "audit:list": Policy(ADMIN, ("GET",)),
    "audit_export": Policy(ADMIN, ("GET", "POST")),
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
}
