"""Contract rules: which services exist, which may carry seat limits, and the lock that makes
seat counting safe under concurrent requests."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Contract

from . import catalog


def contract_lock(organization):
    """Lock and return the organization's contract row for the rest of the transaction.

    PostgreSQL: SELECT ... FOR UPDATE serialises every transaction that counts or takes seats for
    this organization. SQLite ignores FOR UPDATE, but the connection runs transactions in
    IMMEDIATE mode, so the whole database is write-locked from BEGIN (settings._tune_database).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("contract_lock() must run inside transaction.atomic()")
    return Contract.objects.select_for_update().get(organization_id=organization.pk)


def validate_contract_terms(
    *, user_limit: int, services: list[str], service_limits: dict[str, int]
) -> None:
    errors: dict[str, list[str]] = {}
    if user_limit < 0:
        errors.setdefault("user_limit", []).append(_("The user limit cannot be negative."))
    unknown = [code for code in services if code not in catalog.GRANTABLE_CODES]
    if unknown:
        errors.setdefault("services", []).append(
            _("Unknown service codes: %(codes)s. Known codes: %(known)s.")
            % {"codes": ", ".join(unknown), "known": ", ".join(sorted(catalog.GRANTABLE_CODES))}
        )
    for code, limit in service_limits.items():
        if code not in catalog.SEAT_LIMITED_CODES:
            errors.setdefault("service_limits", []).append(
                _("%(code)s has no seat limit; only these do: %(codes)s.")
                % {"code": code, "codes": ", ".join(sorted(catalog.SEAT_LIMITED_CODES))}
            )
        elif code not in services:
            errors.setdefault("service_limits", []).append(
                _("%(code)s has a seat limit but is not in the contract's services.")
                % {"code": code}
            )
        elif limit < 0:
            errors.setdefault("service_limits", []).append(
                _("The seat limit of %(code)s cannot be negative.") % {"code": code}
            )
    for service in catalog.GRANTABLE:
        for required in service.requires:
            if service.code in services and required not in services:
                errors.setdefault("services", []).append(
                    _("%(service)s requires %(required)s in the contract.")
                    % {"service": service.code, "required": required}
                )
    if errors:
        raise ValidationError(errors)
