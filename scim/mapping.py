"""Users and groups between the product and SCIM: a user (with its grants) as a SCIM resource,
and a SCIM resource (created, replaced or patched) as the `Change` the change service checks.
Nothing here decides whether a change is allowed: users.changes does, for every channel."""

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from scim2_models import InvalidValueException

from accounts.fields import DEFAULT_ROLE, NEW_USER_DEFAULTS
from accounts.models import Contract, User
from permissions import catalog
from permissions.services import Grants
from users.changes import Change

from .schema import (
    LANGUAGES,
    LOCALES,
    MIITEL_USER,
    Email,
    Group,
    MiitelUser,
    Name,
)
from .schema import User as UserResource

ADMIN_GROUP = "admin"
ADMIN_GROUP_NAME = "Administrators"


# --- Groups: the services of the contract, and the admin role -------------------------------------


def plain_service(code: str) -> bool:
    """A service that is simply granted or not (Edit meeting access permission has levels)."""
    service = catalog.BY_CODE.get(code)
    return service is not None and service.grantable and not service.has_levels


def group_names(contract: Contract) -> dict[str, str]:
    """{group id: displayName}: Administrators, then each plain service of the contract, named
    in English whatever the viewer's language (identity providers match groups by name)."""
    groups = {ADMIN_GROUP: ADMIN_GROUP_NAME}
    for service in catalog.GRANTABLE:
        if plain_service(service.code) and contract.has_service(service.code):
            groups[service.code] = service.labels["en"]
    return groups


def all_group_names() -> dict[str, str]:
    """{group id: displayName} of every service group any contract may have."""
    groups = {ADMIN_GROUP: ADMIN_GROUP_NAME}
    for service in catalog.GRANTABLE:
        if plain_service(service.code):
            groups[service.code] = service.labels["en"]
    return groups


def contract_services(contract: Contract) -> list[str]:
    return [
        s.code for s in catalog.GRANTABLE if plain_service(s.code) and contract.has_service(s.code)
    ]


# --- A user as a SCIM resource --------------------------------------------------------------------


def version_tag(version: int) -> str:
    return f'W/"{version}"'


def parse_version(tag: str | None) -> int | None:
    """The version an If-Match names (W/"7" or "7"); None for "*" or nothing usable."""
    match = re.fullmatch(r'\s*(?:W/)?"(\d{1,9})"\s*', tag or "")
    return int(match.group(1)) if match else None


def user_resource(
    user: User, grants: Grants, *, contract: Contract, base: str, custom_groups=()
) -> UserResource:
    """`custom_groups`: [(id, name)] of the identity provider's groups the user is in."""
    names = group_names(contract)
    memberships = []
    if user.role == User.Role.ADMIN:
        memberships.append(ADMIN_GROUP)
    memberships += [code for code in sorted(grants) if code in names and code != ADMIN_GROUP]
    services = sorted(code for code in grants if plain_service(code))
    meeting = grants.get(catalog.MEETING_ACCESS) or None
    resource = UserResource(
        id=str(user.pk),
        external_id=user.external_id or None,
        user_name=user.login_id,
        name=Name(formatted=user.name),
        display_name=user.name,
        active=user.is_active,
        preferred_language=LANGUAGES.get(user.locale, user.locale),
        locale=LOCALES.get(user.locale, user.locale),
        timezone=user.time_zone,
        emails=[Email(value=user.login_id, type="work", primary=True)],
        groups=[
            {"value": code, "display": names[code], "$ref": f"{base}/Groups/{code}"}
            for code in memberships
        ]
        + [
            {"value": str(pk), "display": name, "$ref": f"{base}/Groups/{pk}"}
            for pk, name in custom_groups
        ]
        or None,
        meta={
            "resourceType": "User",
            "created": user.created_at,
            "lastModified": user.updated_at,
            "location": f"{base}/Users/{user.pk}",
            "version": version_tag(user.version),
        },
    )
    resource[MiitelUser] = MiitelUser(
        role=user.role,
        extension_number=user.extension or None,
        meeting_access=meeting,
        services=services or None,
    )
    return resource


def group_resource(code: str, name: str, members: list[tuple[int, str]], *, base: str) -> Group:
    return Group(
        id=code,
        display_name=name,
        members=[
            {"value": str(pk), "display": display, "$ref": f"{base}/Users/{pk}", "type": "User"}
            for pk, display in members
        ],
        meta={"resourceType": "Group", "location": f"{base}/Groups/{code}"},
    )


def custom_group_resource(group, members, *, base: str) -> Group:
    """A group the identity provider created (scim.models.ScimGroup), with `members`
    (scim.groups.Member)."""
    return Group(
        id=str(group.pk),
        external_id=group.external_id or None,
        display_name=group.display_name,
        members=[
            {"value": str(m.pk), "display": m.name, "$ref": f"{base}/Users/{m.pk}", "type": "User"}
            for m in members
        ],
        meta={
            "resourceType": "Group",
            "created": group.created_at,
            "lastModified": group.updated_at,
            "location": f"{base}/Groups/{group.pk}",
            "version": version_tag(group.version),
        },
    )


def member_ids(group: Group) -> set[int]:
    """The user ids a group's members name; a value that cannot be a user's id is refused."""
    ids = set()
    for member in group.members or []:
        value = str(member.value or "").strip()
        if not value.isdigit() or len(value) > 18:
            raise InvalidValueException(
                detail=_("“%(value)s” is not the id of a user.") % {"value": value[:50]}
            )
        ids.add(int(value))
    return ids


# --- A request's payload, completed ---------------------------------------------------------------


def _key(payload: dict, name: str) -> str | None:
    """The key of `payload` naming attribute `name` (SCIM attribute names ignore case)."""
    lowered = name.lower()
    return next((k for k in payload if isinstance(k, str) and k.lower() == lowered), None)


def _get(payload: dict, name: str) -> Any:
    key = _key(payload, name)
    return payload.get(key) if key is not None else None


def language(value: Any) -> str:
    """ "ja-JP", "en_US", "EN" -> "ja" / "en"; anything else as its first part, for the change
    service to refuse with the locale rule."""
    text = str(value or "").strip()
    return re.split(r"[-_]", text, maxsplit=1)[0].lower() if text else ""


@dataclass
class NameHints:
    """name.givenName and name.familyName (not kept by the product): a request that gives no
    displayName and no name.formatted names the user by them (Okta sends no formatted name)."""

    given: str = ""
    family: str = ""

    def joined(self, locale: str) -> str:
        parts = [self.family, self.given] if locale == "ja" else [self.given, self.family]
        return " ".join(p for p in parts if p)


def name_hints(payload: dict) -> NameHints:
    name = _get(payload, "name")
    if not isinstance(name, dict):
        return NameHints()
    return NameHints(
        given=str(_get(name, "givenName") or "").strip(),
        family=str(_get(name, "familyName") or "").strip(),
    )


def complete(payload: dict, current: UserResource | None) -> dict:
    """The payload of a POST (`current` None) or a PUT, with the attributes every user has and
    the request left out: the product's defaults for a new user, the current values for a
    replacement. A missing name becomes the names' hint, or "" for the change service to
    refuse as required."""
    payload = dict(payload)

    def fill(name: str, value: Any) -> None:
        if _get(payload, name) in (None, ""):
            key = _key(payload, name) or name
            payload[key] = value

    display = _get(payload, "displayName")
    name = _get(payload, "name")
    formatted = _get(name, "formatted") if isinstance(name, dict) else None
    if display in (None, ""):
        if formatted:
            fill("displayName", formatted)
        elif current is not None and not any(name_hints(payload).__dict__.values()):
            fill("displayName", current.display_name)
        else:
            preferred = _get(payload, "preferredLanguage") or _get(payload, "locale")
            locale = language(preferred) or (
                language(current.preferred_language) if current else NEW_USER_DEFAULTS["locale"]
            )
            fill("displayName", name_hints(payload).joined(locale))
    if not isinstance(name, dict) or not formatted:
        key = _key(payload, "name") or "name"
        payload[key] = {
            **(name if isinstance(name, dict) else {}),
            "formatted": _get(payload, "displayName"),
        }

    defaults = {
        "active": current.active if current else NEW_USER_DEFAULTS["is_active"],
        "timezone": current.timezone if current else NEW_USER_DEFAULTS["time_zone"],
    }
    for attribute, value in defaults.items():
        fill(attribute, value)
    preferred, locale = _get(payload, "preferredLanguage"), _get(payload, "locale")
    if current is not None:
        fill("preferredLanguage", current.preferred_language)
        fill("locale", current.locale)
    else:
        fill("preferredLanguage", preferred or locale or LANGUAGES[NEW_USER_DEFAULTS["locale"]])
        fill("locale", locale or preferred or LOCALES[NEW_USER_DEFAULTS["locale"]])

    extension = _get(payload, MIITEL_USER)
    if extension is None:
        # The extension left out entirely: none of its attributes are asserted, so a
        # replacement keeps them all (an identity provider that knows nothing of MiiTel's
        # services must not revoke them by updating a name), and a new user gets the defaults.
        if current is not None and current[MiitelUser] is not None:
            payload[MIITEL_USER] = current[MiitelUser].model_dump(by_alias=True, exclude_none=True)
        else:
            payload[MIITEL_USER] = {"role": DEFAULT_ROLE}
        _list_schema(payload, MIITEL_USER)
    elif isinstance(extension, dict) and _get(extension, "role") in (None, ""):
        extension = dict(extension)
        extension[_key(extension, "role") or "role"] = (
            current[MiitelUser].role
            if current is not None and current[MiitelUser]
            else DEFAULT_ROLE
        )
        payload[_key(payload, MIITEL_USER)] = extension
    return payload


def _list_schema(payload: dict, urn: str) -> None:
    key = _key(payload, "schemas") or "schemas"
    schemas = payload.get(key)
    schemas = list(schemas) if isinstance(schemas, list) else []
    if urn.lower() not in {str(s).lower() for s in schemas}:
        schemas.append(urn)
    payload[key] = schemas


def strip_readonly(payload: Any) -> Any:
    """A user payload without `emails`: the product's emails are its login ID, so values an
    identity provider sends (Entra ID maps `mail` there by default) are ignored, in every kind
    of request, instead of failing the whole request as a read-only attribute."""
    if not isinstance(payload, dict):
        return payload
    return {
        k: v
        for k, v in payload.items()
        if not (isinstance(k, str) and re.match(r"(?i)^emails(?![a-z0-9$_-])", k))
    }


# --- A SCIM resource as a change ------------------------------------------------------------------


def _changed(before: UserResource | None, after: UserResource, attribute: str) -> bool:
    return before is None or getattr(before, attribute) != getattr(after, attribute)


def change_for(
    *,
    user: User | None,
    grants: Grants,
    before: UserResource | None,
    after: UserResource,
    version: int | None = None,
) -> Change:
    """The Change that takes `user` (None: a new user) from `before` to `after`.

    Where two attributes hold one setting, the one this request changed wins, and when both
    changed: displayName over name.formatted, preferredLanguage over locale."""
    values: dict[str, Any] = {
        "login_id": after.user_name or "",
        "is_active": after.active,
        "time_zone": after.timezone or "",
        "external_id": after.external_id or "",
    }
    if _changed(before, after, "display_name") or after.name is None:
        values["name"] = after.display_name or ""
    elif before is not None and before.name != after.name:
        values["name"] = after.name.formatted or ""
    if _changed(before, after, "preferred_language"):
        values["locale"] = language(after.preferred_language)
    elif _changed(before, after, "locale"):
        values["locale"] = language(after.locale)

    extension = after[MiitelUser]
    desired: Grants | None = None
    if extension is not None:
        values["role"] = extension.role or ""
        values["extension"] = extension.extension_number or ""
        desired = {code: level for code, level in grants.items() if not plain_service(code)}
        desired.pop(catalog.MEETING_ACCESS, None)
        for code in extension.services or []:
            desired[str(code)] = ""
        level = (extension.meeting_access or "").strip()
        if level and level != catalog.MEETING_ACCESS_NONE:
            desired[catalog.MEETING_ACCESS] = level
        if desired == grants and user is not None:
            desired = None

    if user is None:
        return Change(fields=values, grants=desired or {}, generate_password=True)
    fields = {k: v for k, v in values.items() if getattr(user, k) != v}
    return Change(user_id=user.pk, fields=fields, grants=desired, version=version)


__all__ = [
    "ADMIN_GROUP",
    "Group",
    "change_for",
    "complete",
    "custom_group_resource",
    "group_names",
    "group_resource",
    "member_ids",
    "strip_readonly",
    "user_resource",
]
