"""Writes to organizations and contracts (operators only), and a user's own password.

Every change an admin, an operator, a CSV import or an identity provider makes to users and
their services goes through users.changes.apply_changes instead (docs/architecture.md)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.fields import DEFAULT_TIME_ZONE
from accounts.models import Contract, Organization, User
from accounts.validators import offered_time_zones
from audit.models import AuditEvent
from audit.services import Actor, audit_record, diff
from permissions import catalog
from permissions.contracts import contract_lock, validate_contract_terms

# --- Organizations and contracts (operators only) ---------------------------------------------


@transaction.atomic
def organization_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    user_limit: int,
    services: list[str] | None = None,
    service_limits: dict[str, int] | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> Organization:
    if time_zone not in offered_time_zones():
        raise ValidationError(
            {"time_zone": _("“%(zone)s” is not a time zone offered.") % {"zone": time_zone}}
        )
    services = sorted(set(catalog.DEFAULT_CONTRACT_SERVICES if services is None else services))
    service_limits = dict(service_limits or {})
    validate_contract_terms(user_limit=user_limit, services=services, service_limits=service_limits)
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(
            {"slug": _("An organization with the slug “%(slug)s” already exists.") % {"slug": slug}}
        )
    organization = Organization(slug=slug, name=name, time_zone=time_zone)
    organization.full_clean()
    organization.save()
    Contract.objects.create(
        organization=organization,
        user_limit=user_limit,
        services=services,
        service_limits=service_limits,
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.ORGANIZATION_CREATE,
        organization=organization,
        target_label=slug,
        changes={
            "name": [None, name],
            "time_zone": [None, time_zone],
            "user_limit": [None, user_limit],
            "services": [None, sorted(services)],
            "service_limits": [None, service_limits],
        },
    )
    return organization


@transaction.atomic
def contract_set(
    *,
    actor: Actor,
    organization: Organization,
    user_limit: int | None = None,
    services: list[str] | None = None,
    service_limits: dict[str, int] | None = None,
) -> Contract:
    """Change a contract. Lowering a limit below what is in use is allowed (nobody is removed);
    adding users or seats is then refused until usage is under the limit again."""
    contract = contract_lock(organization)
    before = {
        "user_limit": contract.user_limit,
        "services": sorted(contract.services),
        "service_limits": dict(contract.service_limits),
    }
    if user_limit is not None:
        contract.user_limit = user_limit
    if services is not None:
        contract.services = sorted(set(services))
        # A limit of a service no longer contracted goes with it.
        contract.service_limits = {
            k: v for k, v in contract.service_limits.items() if k in contract.services
        }
    if service_limits is not None:
        contract.service_limits = {**contract.service_limits, **service_limits}
    validate_contract_terms(
        user_limit=contract.user_limit,
        services=contract.services,
        service_limits=contract.service_limits,
    )
    contract.save()
    after = {
        "user_limit": contract.user_limit,
        "services": sorted(contract.services),
        "service_limits": dict(contract.service_limits),
    }
    changes = diff(before, after)
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CONTRACT_CHANGE,
            organization=organization,
            target_label=organization.slug,
            changes=changes,
        )
    return contract


@transaction.atomic
def password_change_own(*, actor: Actor, user: User, new_password: str) -> None:
    """The user chose their own password: it is no longer temporary."""
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.PASSWORD_CHANGE,
        organization=user.organization,
        target=user,
    )
