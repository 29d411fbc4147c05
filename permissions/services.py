"""Grants as the change service and the pages read them. Their rules are in permissions.rules;
users.changes writes them, as a diff."""

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


def grants_summary(grants: Grants) -> list[str]:
    """Grants as stable, readable audit values: ["phone", "meeting_access=host", ...]."""
    return [f"{code}={level}" if level else code for code, level in sorted(grants.items())]
