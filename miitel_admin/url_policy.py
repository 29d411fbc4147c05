"""Every URL name with its access policy. tests/security/test_url_registry.py walks the URL
resolver and fails when a URL is missing here, then checks each one against its policy:
anonymous, member, another organization's admin, wrong method, missing CSRF token."""

from dataclasses import dataclass

PUBLIC = "public"  # anyone
SIGNED_IN = "signed_in"  # any signed-in user (a temporary password still forces its change)
ADMIN = "admin"  # signed-in admins of the organization; members get 403
# Between a correct password and the second factor (or enrolment): only the session that passed
# the password; anyone else is sent to the sign-in page.
PENDING = "pending"
# A bearer token of the organization (the SCIM API): without one, 401 whatever cookies come
# with the request, never the console's redirect to the sign-in page.
TOKEN = "token"  # noqa: S105 (an access kind, not a secret)
# Posted by an organization's identity provider (the SAML ACS): public and exempt from CSRF, as
# the browser brings the POST from the IdP's site; what authenticates it is the signed SAML
# response, checked by pysaml2 (docs/sso.md). Anything else answers 400/403 and signs nobody in.
IDP = "idp"


@dataclass(frozen=True)
class Policy:
    access: str
    methods: tuple[str, ...]
    # The object named in the URL, fetched scoped (404 for anyone it does not belong to): owned
    # by the organization (admin URLs) or by the signed-in user (their own sign-in methods).
    scoped: str | None = None


POLICY: dict[str, Policy] = {
    "home": Policy(PUBLIC, ("GET",)),
    "login": Policy(PUBLIC, ("GET", "POST")),
    # Single sign-on (docs/sso.md): the start page, and per organization the ACS and the SP
    # metadata the identity provider is given.
    "sso:start": Policy(PUBLIC, ("GET", "POST")),
    "sso:acs": Policy(IDP, ("POST",)),
    "sso:metadata": Policy(PUBLIC, ("GET",)),
    "sso:settings": Policy(ADMIN, ("GET", "POST")),
    "sso:options": Policy(ADMIN, ("POST",)),
    "sso:test": Policy(ADMIN, ("POST",)),
    "healthz": Policy(PUBLIC, ("GET",)),
    "logout": Policy(SIGNED_IN, ("POST",)),
    "password_change": Policy(SIGNED_IN, ("GET", "POST")),
    "mfa:verify": Policy(PENDING, ("GET", "POST")),
    "mfa:verify_passkey": Policy(PENDING, ("POST",)),
    "mfa:verify_recovery": Policy(PENDING, ("GET", "POST")),
    "mfa:enrol": Policy(PENDING, ("GET", "POST")),
    "mfa:enrol_passkey": Policy(PENDING, ("POST",)),
    "mfa:security": Policy(SIGNED_IN, ("GET",)),
    "mfa:totp_add": Policy(SIGNED_IN, ("GET", "POST")),
    "mfa:passkey_add": Policy(SIGNED_IN, ("GET", "POST")),
    "mfa:totp_remove": Policy(SIGNED_IN, ("GET", "POST"), scoped="totp_device"),
    "mfa:passkey_remove": Policy(SIGNED_IN, ("GET", "POST"), scoped="passkey"),
    "mfa:recovery_regenerate": Policy(SIGNED_IN, ("GET", "POST")),
    "mfa:reset": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "mfa:policy": Policy(ADMIN, ("GET", "POST")),
    # The header's language switch: the signed-in user's own locale, or a cookie before sign-in.
    "language": Policy(PUBLIC, ("POST",)),
    "users:list": Policy(ADMIN, ("GET",)),
    "users:create": Policy(ADMIN, ("GET", "POST")),
    "batches:detail": Policy(ADMIN, ("GET",), scoped="batch"),
    "batches:undo": Policy(ADMIN, ("GET", "POST"), scoped="batch"),
    "users:detail": Policy(ADMIN, ("GET",), scoped="user"),
    "users:sign_out": Policy(ADMIN, ("POST",), scoped="user"),
    "users:cancel_schedule": Policy(ADMIN, ("POST",), scoped="user"),
    "users:edit": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:activate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:deactivate": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    "users:delete": Policy(ADMIN, ("GET", "POST"), scoped="user"),
    # Bulk actions: the IDs come in the body (another organization's answer 404, like IDs that
    # do not exist); the confirmation and the apply are POST only.
    "users:bulk": Policy(ADMIN, ("POST",)),
    "users:bulk_apply": Policy(ADMIN, ("POST",)),
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
