"""Grants: validated against the contract, dependencies and seat limits, saved as a diff."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from permissions.models import SeatCount

from . import catalog
from .models import ServiceGrant

Grants = dict[str, str]  # service code -> level ("" for services without levels)


def grants_of(user) -> Grants:
    if user.pk is None:
        return {}
    return dict(ServiceGrant.objects.filter(user=user).values_list("service", "level"))


def grants_normalize(desired: Grants) -> Grants:
    """Drop "not granted" entries: a leveled service at its first (none) level has no row."""
    clean: Grants = {}
    for code, level in desired.items():
        service = catalog.BY_CODE.get(code)
        if service is None or not service.grantable:
            clean[code] = level  # left for grants_validate to report
            continue
        if service.has_levels:
            if level and level != service.levels[0].value:
                clean[code] = level
            elif not level:
                continue
        else:
            clean[code] = ""
    return clean


def field_name(code: str) -> str:
    """The form field (and error key) of a service."""
    return f"service_{code}"


def grants_validate(
    *, contract, user, desired: Grants, current: Grants, check_seats: bool = True
) -> None:
    """Raise ValidationError keyed by service field for every rule `desired` breaks.

    Seat counts are exact only when the caller holds contract_lock(). The CSV import checks
    seats over the whole file instead (check_seats=False)."""
    errors: dict[str, list[str]] = {}

    def add(code: str, message: str) -> None:
        errors.setdefault(field_name(code), []).append(message)

    for code, level in desired.items():
        service = catalog.BY_CODE.get(code)
        if service is None or not service.grantable:
            add(code, _("Unknown service “%(code)s”.") % {"code": code})
            continue
        if not contract.has_service(code) and current.get(code) != level:
            # A grant kept from before a contract change stays; adding one is refused.
            add(
                code,
                _(
                    "%(service)s is not in your organization's contract. "
                    "To add it, please contact us."
                )
                % {"service": service.label},
            )
            continue
        if service.has_levels and service.level(level) is None:
            add(
                code,
                _("%(service)s must be one of: %(levels)s.")
                % {
                    "service": service.label,
                    "levels": ", ".join(lvl.label for lvl in service.levels),
                },
            )
        for required in service.requires:
            if required not in desired:
                add(
                    code,
                    _("%(service)s requires %(required)s: enable %(required)s too.")
                    % {"service": service.label, "required": catalog.get(required).label},
                )
    for code in catalog.SEAT_LIMITED_CODES if check_seats else ():
        limit = contract.seat_limit(code)
        if limit is None or code not in desired or code in current or field_name(code) in errors:
            continue
        # The trigger-kept counter (accounts.models.SeatCount); `user` does not hold `code` here.
        taken = SeatCount.used_of(organization_id=contract.organization_id, code=code)
        if taken >= limit:
            add(
                code,
                _(
                    "All %(limit)d %(service)s seats in your contract are in use. "
                    "To change your contract, please contact us."
                )
                % {"limit": limit, "service": catalog.get(code).label},
            )
    if errors:
        raise ValidationError(errors)


def grants_set(*, user, desired: Grants, current: Grants | None = None) -> tuple[Grants, Grants]:
    """Write `desired` as a diff: delete removed grants, update changed levels, create new ones.

    Returns (before, after). Call grants_validate first, under contract_lock()."""
    before = grants_of(user) if current is None else current
    removed = [code for code in before if code not in desired]
    if removed:
        ServiceGrant.objects.filter(user=user, service__in=removed).delete()
    for code, level in desired.items():
        if code in before and before[code] != level:
            ServiceGrant.objects.filter(user=user, service=code).update(level=level)
    added = [code for code in desired if code not in before]
    if added:
        ServiceGrant.objects.bulk_create(
            ServiceGrant(
                organization_id=user.organization_id, user=user, service=code, level=desired[code]
            )
            for code in added
        )
    return before, dict(desired)


def grants_summary(grants: Grants) -> list[str]:
    """Grants as stable, readable audit values: ["phone", "meeting_access=host", ...]."""
    return [f"{code}={level}" if level else code for code, level in sorted(grants.items())]
