"""Groups the identity provider creates (docs/scim.md "Groups"): Okta's "Push Groups" and
Microsoft Entra ID create a group when none of the same displayName exists. They sit beside
the service groups and grant nothing; their members are users of the same organization.

Every function takes the organization and scopes each query by it (docs/security.md). Each
change is one transaction, audited as made through SCIM with the token's name."""

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    UniquenessException,
)

from accounts.models import Organization, User
from audit.models import AuditEvent
from audit.services import Actor, audit_record

from . import mapping
from .models import EXTERNAL_ID_MAX_LENGTH, NAME_MAX_LENGTH, ScimGroup, ScimGroupMember, name_key


@dataclass(frozen=True)
class Member:
    pk: int
    name: str
    login_id: str


def reserved_names() -> set[str]:
    """The names of the service groups, as keys: Administrators and every plain service of
    the catalog (not only the contract's, so that a contract gaining a service never makes two
    groups of one name)."""
    return {name_key(name) for name in mapping.all_group_names().values()}


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def scoped(organization: Organization, group_id: str, *, lock: bool = False) -> ScimGroup:
    """A group of `organization`; another organization's id answers like one that does not
    exist."""
    pk = parse_id(group_id)
    qs = ScimGroup.objects.filter(organization=organization, pk=pk) if pk else None
    if qs is not None and lock:
        qs = qs.select_for_update()
    group = qs.first() if qs is not None else None
    if group is None:
        raise NotFoundException(detail=_("No such resource in this organization."))
    return group


def members_of(organization: Organization, group_ids: list) -> dict[uuid.UUID, list[Member]]:
    """{group id: its members by user id}, in one query whatever the number of groups."""
    found: dict[uuid.UUID, list[Member]] = {pk: [] for pk in group_ids}
    if not group_ids:
        return found
    rows = (
        ScimGroupMember.objects.filter(
            organization=organization, group_id__in=group_ids, user__deleted_at__isnull=True
        )
        .order_by("group_id", "user_id")
        .values_list("group_id", "user_id", "user__name", "user__login_id")
    )
    for group_id, pk, name, login_id in rows:
        found[group_id].append(Member(pk, name, login_id))
    return found


def memberships_of(organization: Organization, user_ids: list[int]) -> dict[int, list]:
    """{user id: [(group id, name)]}: the identity provider's groups each user is in."""
    found: dict[int, list] = {}
    if not user_ids:
        return found
    rows = (
        ScimGroupMember.objects.filter(organization=organization, user_id__in=user_ids)
        .order_by("group__name_key")
        .values_list("user_id", "group_id", "group__display_name")
    )
    for user_id, group_id, name in rows:
        found.setdefault(user_id, []).append((group_id, name))
    return found


def with_member_counts(organization: Organization):
    """The organization's groups with `member_count` (the Provisioning page)."""
    return ScimGroup.objects.filter(organization=organization).annotate(
        member_count=Count("memberships", filter=Q(memberships__user__deleted_at__isnull=True))
    )


# --- Checks ---------------------------------------------------------------------------------------


def _clean_name(value) -> str:
    name = str(value or "").strip()
    if not name:
        raise InvalidValueException(detail=_("A group needs a displayName."))
    if len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise InvalidValueException(
            detail=_("A group's displayName must be at most %(max)d printable characters.")
            % {"max": NAME_MAX_LENGTH}
        )
    return name


def _clean_external_id(value) -> str:
    external_id = str(value or "").strip()
    if len(external_id) > EXTERNAL_ID_MAX_LENGTH or not external_id.isprintable():
        raise InvalidValueException(
            detail=_("The external ID must be at most %(max)d printable characters.")
            % {"max": EXTERNAL_ID_MAX_LENGTH}
        )
    return external_id


def _taken(name: str) -> UniquenessException:
    return UniquenessException(
        detail=_("A group named “%(name)s” already exists.") % {"name": name[:100]}
    )


def _check_name_free(organization: Organization, name: str, group: ScimGroup | None) -> None:
    key = name_key(name)
    if key in reserved_names():
        raise _taken(name)
    others = ScimGroup.objects.filter(organization=organization, name_key=key)
    if group is not None:
        others = others.exclude(pk=group.pk)
    if others.exists():
        raise _taken(name)


def resolve_members(organization: Organization, ids: set[int]) -> dict[int, Member]:
    """The users `ids` name, each a user of `organization` that is not deleted; any other id
    (another organization's user included) is refused the same way, naming nothing of it."""
    if not ids:
        return {}
    rows = User.objects.filter(
        organization=organization, pk__in=ids, deleted_at__isnull=True
    ).values_list("pk", "name", "login_id")
    found = {pk: Member(pk, name, login_id) for pk, name, login_id in rows}
    missing = sorted(ids - set(found))
    if missing:
        raise InvalidValueException(
            detail=_("“%(value)s” is not the id of a user of this organization.")
            % {"value": missing[0]}
        )
    return found


def _check_version(group: ScimGroup, version: int | None) -> None:
    if version is not None and version != group.version:
        raise PreconditionFailedException(
            detail=_("The group was changed since version %(version)d (now %(current)d).")
            % {"version": version, "current": group.version}
        )


def _labels(members) -> list[str]:
    return [m.login_id or m.name for m in members]


# --- Changes --------------------------------------------------------------------------------------


def group_create(
    *,
    organization: Organization,
    actor: Actor,
    display_name,
    external_id,
    member_ids: set[int],
) -> ScimGroup:
    name = _clean_name(display_name)
    external = _clean_external_id(external_id)
    _check_name_free(organization, name, None)
    try:
        with transaction.atomic():
            members = resolve_members(organization, member_ids)
            group = ScimGroup.objects.create(
                organization=organization, display_name=name, external_id=external
            )
            ScimGroupMember.objects.bulk_create(
                ScimGroupMember(organization=organization, group=group, user_id=pk)
                for pk in sorted(members)
            )
            changes = {"group_name": [None, name]}
            if external:
                changes["external_id"] = [None, external]
            if members:
                changes["members_added"] = [None, _labels(members[pk] for pk in sorted(members))]
            audit_record(
                actor=actor,
                action=AuditEvent.Action.SCIM_GROUP_CREATE,
                organization=organization,
                target_label=name,
                changes=changes,
            )
    except IntegrityError:
        # Another request created the same name meanwhile (the unique constraint).
        raise _taken(name) from None
    return group


def group_update(
    *,
    organization: Organization,
    actor: Actor,
    group_id: str,
    version: int | None,
    change,
) -> ScimGroup:
    """`change(current)` gets the group as a SCIM resource (members by value) and returns it as
    it should be; the group row is locked meanwhile, so concurrent changes queue."""
    after = None
    try:
        with transaction.atomic():
            group = scoped(organization, group_id, lock=True)
            _check_version(group, version)
            before_members = members_of(organization, [group.pk])[group.pk]
            after = change(mapping.custom_group_resource(group, before_members, base=""))
            name = _clean_name(after.display_name)
            external = _clean_external_id(after.external_id)
            if name_key(name) != group.name_key:
                _check_name_free(organization, name, group)
            before_ids = {m.pk for m in before_members}
            after_ids = mapping.member_ids(after)
            added = resolve_members(organization, after_ids - before_ids)
            removed = before_ids - after_ids
            changes = {}
            if name != group.display_name:
                changes["group_name"] = [group.display_name, name]
            if external != group.external_id:
                changes["external_id"] = [group.external_id, external]
            if added:
                changes["members_added"] = [None, _labels(added[pk] for pk in sorted(added))]
            if removed:
                gone = [m for m in before_members if m.pk in removed]
                changes["members_removed"] = [None, _labels(gone)]
            if not changes:
                return group
            ScimGroupMember.objects.filter(
                organization=organization, group=group, user_id__in=removed
            ).delete()
            ScimGroupMember.objects.bulk_create(
                ScimGroupMember(organization=organization, group=group, user_id=pk)
                for pk in sorted(added)
            )
            group.display_name = name
            group.external_id = external
            group.version += 1
            group.updated_at = timezone.now()
            group.save()
            audit_record(
                actor=actor,
                action=AuditEvent.Action.SCIM_GROUP_UPDATE,
                organization=organization,
                target_label=name,
                changes=changes,
            )
    except IntegrityError:
        raise _taken(str(getattr(after, "display_name", "") or "")) from None
    return group


def group_delete(
    *, organization: Organization, actor: Actor, group_id: str, version: int | None
) -> None:
    """The group and its memberships go; the users stay."""
    with transaction.atomic():
        group = scoped(organization, group_id, lock=True)
        _check_version(group, version)
        count = ScimGroupMember.objects.filter(organization=organization, group=group).delete()[0]
        ScimGroup.objects.filter(organization=organization, pk=group.pk).delete()
        audit_record(
            actor=actor,
            action=AuditEvent.Action.SCIM_GROUP_DELETE,
            organization=organization,
            target_label=group.display_name,
            changes={"group_name": [group.display_name, None]},
            detail=f"members={count}",
        )


def drop_deleted_user(*, user) -> dict[str, int]:
    """A deleted user leaves every group (users.signals.user_deleted): the memberships go and
    the groups' versions move on. On PostgreSQL one statement (a deletion is counted in
    statements: docs/performance.md); elsewhere two."""
    if connection.vendor == "postgresql":
        members = ScimGroupMember._meta.db_table
        groups = ScimGroup._meta.db_table
        # Constant SQL from the models' table names; the values are parameters.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH gone AS (DELETE FROM {members} WHERE organization_id = %s "  # noqa: S608
                f"AND user_id = %s RETURNING group_id), bumped AS (UPDATE {groups} "
                "SET version = version + 1, updated_at = %s "
                "WHERE organization_id = %s AND id IN (SELECT group_id FROM gone)) "
                "SELECT count(*) FROM gone",
                [user.organization_id, user.pk, timezone.now(), user.organization_id],
            )
            return {"group_memberships": cursor.fetchone()[0]}
    memberships = ScimGroupMember.objects.filter(organization_id=user.organization_id, user=user)
    ScimGroup.objects.filter(
        organization_id=user.organization_id,
        pk__in=memberships.values("group_id"),
    ).update(version=F("version") + 1, updated_at=timezone.now())
    return {"group_memberships": memberships.delete()[0]}
