"""The SCIM resources this service provider serves, as scim2-models models: what requests are
parsed into, what responses are dumped from, and what /Schemas publishes (exactly these
attributes, nothing the product does not keep).

The enterprise extension is not served: none of its attributes maps to a MiiTel setting (Entra
ID and Okta send them; they are ignored like any attribute this service does not keep).

Attributes every user always has (userName, displayName, name, active, preferredLanguage,
locale, timezone, the role) are published as required: they cannot be removed. A creation that
leaves one out gets the product's default, and a replacement keeps the current value
(RFC 7644 §3.5.1: an omitted attribute "MAY be assumed to be not asserted"); scim.mapping
completes the payload before it is validated."""

from typing import Annotated, ClassVar

from pydantic import Field
from scim2_models import (
    URN,
    ComplexAttribute,
    Extension,
    GroupMembership,
    Mutability,
    Required,
    Resource,
    Returned,
    Uniqueness,
)
from scim2_models import Group as LibraryGroup
from scim2_models import GroupMember as LibraryGroupMember

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MIITEL_USER = "urn:ietf:params:scim:schemas:extension:miitel:2.0:User"

# The values the product keeps, as SCIM spells them.
LANGUAGES = {"ja": "ja", "en": "en"}
LOCALES = {"ja": "ja-JP", "en": "en-US"}


class Name(ComplexAttribute):
    formatted: str | None = Field(
        None,
        description=(
            "The user name (at most 30 characters). When a request gives neither "
            "displayName nor name.formatted, it is built from name.givenName and "
            "name.familyName."
        ),
    )


class Email(ComplexAttribute):
    value: Annotated[str | None, Mutability.read_only] = Field(
        None, description="The login ID, which is the user's email address."
    )
    type: Annotated[str | None, Mutability.read_only] = Field(None, examples=["work"])
    primary: Annotated[bool | None, Mutability.read_only] = None


class MiitelUser(Extension):
    """MiiTel user settings: role, extension number and services. Every user has them (a
    request that leaves the extension out gets the defaults, or keeps the current values)."""

    __schema__ = URN(MIITEL_USER)

    role: Annotated[str | None, Required.true] = Field(
        None,
        examples=["admin", "member"],
        description="admin (may use the MiiTel Admin console) or member.",
    )
    extension_number: Annotated[str | None, Uniqueness.server] = Field(
        None, description="3 to 6 digits, unique within the organization."
    )
    meeting_access: str | None = Field(
        None,
        examples=["host", "all"],
        description=(
            "Edit meeting access permission: host (host only) or all. Unassigned (or "
            "none) means not granted."
        ),
    )
    services: list[str] | None = Field(
        None,
        description=(
            "Codes of the services granted, among those of the organization's contract. "
            "The same grants are the memberships of the Groups."
        ),
    )


class User(Resource[Annotated[MiitelUser, Required.true]]):
    """MiiTel user"""

    __schema__ = URN(CORE_USER)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = Field(
        None,
        description=("The login ID: an email address, unique (case-insensitively) across MiiTel."),
    )
    name: Annotated[Name | None, Required.true] = None
    Name: ClassVar[type[ComplexAttribute]] = Name
    display_name: Annotated[str | None, Required.true] = Field(
        None, description="The user name, at most 30 characters."
    )
    active: Annotated[bool | None, Required.true] = Field(
        None,
        description=(
            "false deactivates the user: signed out everywhere at once, settings and seat kept."
        ),
    )
    preferred_language: Annotated[str | None, Required.true] = Field(
        None,
        examples=list(LANGUAGES.values()),
        description="The console's language: ja or en (ja-JP, en_US and the like are read too).",
    )
    locale: Annotated[str | None, Required.true] = Field(
        None,
        examples=list(LOCALES.values()),
        description="The same setting as preferredLanguage, as a locale.",
    )
    timezone: Annotated[str | None, Required.true] = Field(
        None,
        description="An IANA time zone among those the console offers (canonicalValues).",
    )
    emails: Annotated[list[Email] | None, Mutability.read_only] = Field(
        None,
        description=(
            "The login ID as the work email. Read-only: values sent are ignored; change "
            "userName instead."
        ),
    )
    Emails: ClassVar[type[ComplexAttribute]] = Email
    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None


class GroupMember(LibraryGroupMember):
    """A member of a group: a user of the organization, named by its id (`value`). `display`
    is the user's name, the server's: returned when asked for (attributes=members.display),
    so that a group reads back exactly as the identity provider wrote it."""

    display: Annotated[str | None, Mutability.read_only, Returned.request] = Field(
        None, description="The user's name (returned when requested)."
    )


class Group(LibraryGroup):
    """A service of the organization's contract, Administrators (the admin role), or a group
    the identity provider created"""

    __schema__ = URN(CORE_GROUP)

    display_name: Annotated[str | None, Required.true] = Field(
        None,
        description=(
            "The service's name (Administrators for the admin role): these cannot be changed. "
            "A group the identity provider created has the name it gave, unique in the "
            "organization (case-insensitively, service names included)."
        ),
    )
    members: list[GroupMember] | None = Field(
        None,
        description=(
            "Users of the organization. In a service group, the users granted the service "
            "(or given the admin role); in a group the identity provider created, its members "
            "(which grant nothing)."
        ),
    )


__all__ = [
    "CORE_GROUP",
    "CORE_USER",
    "LANGUAGES",
    "LOCALES",
    "MIITEL_USER",
    "Group",
    "GroupMember",
    "MiitelUser",
    "User",
]
