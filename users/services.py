"""Writes to organizations and users. Views, operator commands and the CSV import all call these,
so every rule and every audit record applies to all three (architecture.md).

Field formats are checked by the forms (users/forms.py) before these run; the services enforce
what needs the database under a lock: seat limits, uniqueness, the last-admin rule.
"""

import secrets
import string

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contract, Organization, User
from accounts.sessions import user_sessions_end
from accounts.validators import normalize_login_id, password_rule_errors
from analytics.services import purge_user_activity
from audit.models import AuditEvent
from audit.services import Actor, audit_event, audit_record, diff
from mfa import selectors as mfa_selectors
from mfa import services as mfa_services
from permissions import catalog
from permissions.contracts import contract_lock, validate_contract_terms
from permissions.models import SeatCount, ServiceGrant
from permissions.services import (
    Grants,
    grants_normalize,
    grants_of,
    grants_set,
    grants_summary,
    grants_validate,
)

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
) -> Organization:
    services = sorted(set(catalog.DEFAULT_CONTRACT_SERVICES if services is None else services))
    service_limits = dict(service_limits or {})
    validate_contract_terms(user_limit=user_limit, services=services, service_limits=service_limits)
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(
            {"slug": _("An organization with the slug “%(slug)s” already exists.") % {"slug": slug}}
        )
    organization = Organization(slug=slug, name=name)
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


# --- Seats ------------------------------------------------------------------------------------


def _check_user_limit(contract: Contract, *, adding: int = 1) -> None:
    """Every user that is not deleted takes a seat, active or not (product.md §2). The count is
    the trigger-kept counter, read under the contract lock, so it is exact."""
    used = SeatCount.used_of(organization_id=contract.organization_id, code=SeatCount.USERS)
    if used + adding > contract.user_limit:
        raise ValidationError(
            _(
                "Your contract allows %(limit)d users and %(used)d are registered. "
                "To change the number of users in your contract, please contact us."
            )
            % {"limit": contract.user_limit, "used": used},
            code="user_limit",
        )


# --- Users ------------------------------------------------------------------------------------

GENERATED_PASSWORD_LENGTH = 12


def generate_temporary_password(user: User | None = None) -> str:
    """A random password that passes the published rule (letters, digits and a symbol) and,
    given the user it is for, every other password validator too."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = [secrets.choice(alphabet) for _ in range(GENERATED_PASSWORD_LENGTH - 3)]
        body += [secrets.choice(string.digits), secrets.choice("#%+-_=!?")]
        # Shuffle with a CSPRNG so the digit and the symbol are not always last; the first
        # character is a letter, so no password starts like a spreadsheet formula (= + - @).
        for i in range(len(body) - 1, 0, -1):
            j = secrets.randbelow(i + 1)
            body[i], body[j] = body[j], body[i]
        password = secrets.choice(string.ascii_letters) + "".join(body)
        if password_rule_errors(password):
            continue
        if user is not None:
            try:
                validate_password(password, user)
            except ValidationError:
                continue
        return password


def _user_snapshot(user: User) -> dict:
    return {
        "login_id": user.login_id,
        "name": user.name,
        "locale": user.locale,
        "time_zone": user.time_zone,
        "role": user.role,
        "extension": user.extension,
        "is_active": user.is_active,
    }


def _check_unique(user: User) -> None:
    errors = {}
    key = normalize_login_id(user.login_id)
    if User.objects.filter(login_id_key=key).exclude(pk=user.pk).exists():
        errors["login_id"] = _("This login ID is already in use.")
    if (
        user.extension
        and User.objects.filter(organization_id=user.organization_id, extension=user.extension)
        .exclude(pk=user.pk)
        .exists()
    ):
        errors["extension"] = _("This extension number is already used in your organization.")
    if errors:
        raise ValidationError(errors)


def _save_unique(user: User, **kwargs) -> None:
    """Save; a uniqueness race lost to another transaction becomes the same form error."""
    try:
        with transaction.atomic():
            user.save(**kwargs)
    except IntegrityError:
        _check_unique(user)
        raise


def _check_keeps_an_admin(contract: Contract, user: User, *, action: str) -> None:
    others = (
        User.objects.filter(organization_id=contract.organization_id, role=User.Role.ADMIN)
        .available()
        .exclude(pk=user.pk)
    )
    if not others.exists():
        raise ValidationError(
            _(
                "This is the organization's last active admin, so it cannot be %(action)s. "
                "Make another user an active admin first."
            )
            % {"action": action},
            code="last_admin",
        )


def user_create(
    *,
    actor: Actor,
    organization: Organization,
    login_id: str,
    name: str,
    password: str,
    locale: str = User.Locale.JAPANESE,
    time_zone: str = "Asia/Tokyo",
    role: str = User.Role.MEMBER,
    extension: str = "",
    grants: Grants | None = None,
    is_active: bool = True,
    password_hash: str | None = None,
    check_limits: bool = True,
) -> User:
    """Add a user with a temporary password (forced change at first sign-in).

    The password is hashed before the contract lock is taken, so concurrent adds queue only for
    the count and the insert, not for argon2. `check_limits=False` is for the CSV import only,
    which checks the user and seat limits over the whole file, under the same lock."""
    encoded = password_hash or make_password(password)
    desired = grants_normalize(grants or {})
    with transaction.atomic():
        contract = contract_lock(organization)
        if check_limits:
            _check_user_limit(contract)
        user = User(
            organization=organization,
            login_id=login_id,
            name=name,
            locale=locale,
            time_zone=time_zone,
            role=role,
            extension=extension,
            is_active=is_active,
            must_change_password=True,
            password=encoded,
        )
        _check_unique(user)
        grants_validate(
            contract=contract, user=user, desired=desired, current={}, check_seats=check_limits
        )
        _save_unique(user)
        grants_set(user=user, desired=desired, current={})
        audit_record(**_created_audit(actor, user, desired))
    return user


def _created_audit(actor: Actor, user: User, grants: dict[str, str]) -> dict:
    """The audit record of an added user: every field and the services, from nothing."""
    return {
        "actor": actor,
        "action": AuditEvent.Action.USER_CREATE,
        "organization": user.organization,
        "target": user,
        "changes": {
            **{k: [None, v] for k, v in _user_snapshot(user).items()},
            "services": [None, grants_summary(grants)],
        },
    }


def users_bulk_create(
    *, actor: Actor, organization: Organization, users: list[dict], batch_size: int = 1000
) -> list[User]:
    """Add many users at once: the CSV import's add rows, already validated as a whole file
    (every field rule, the contract, seats, duplicates) under the contract lock the caller
    holds. Each dict: the fields of user_create(), `password_hash` and `grants`.

    The same rows, grants and one audit record per user as user_create() writes, with three
    bulk inserts instead of a dozen statements per user (10,000 users: seconds, not minutes).
    The database still enforces login ID and extension uniqueness."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("users_bulk_create() must run inside the import's transaction")
    created: list[User] = []
    for start in range(0, len(users), batch_size):
        chunk = users[start : start + batch_size]
        objs = [
            User(
                organization=organization,
                login_id=u["login_id"],
                login_id_key=normalize_login_id(u["login_id"]),
                name=u["name"],
                locale=u["locale"],
                time_zone=u["time_zone"],
                role=u["role"],
                extension=u["extension"],
                is_active=u["is_active"],
                must_change_password=True,
                password=u["password_hash"],
            )
            for u in chunk
        ]
        objs = User.objects.bulk_create(objs)
        grants = []
        events = []
        for user, u in zip(objs, chunk, strict=True):
            desired = grants_normalize(u["grants"])
            grants += [
                ServiceGrant(organization=organization, user=user, service=code, level=level)
                for code, level in desired.items()
            ]
            events.append(audit_event(**_created_audit(actor, user, desired)))
        ServiceGrant.objects.bulk_create(grants)
        AuditEvent.objects.bulk_create(events)
        created += objs
    return created


_UPDATABLE = ("login_id", "name", "locale", "time_zone", "role", "extension", "is_active")


def user_update(
    *,
    actor: Actor,
    user: User,
    data: dict,
    grants: Grants | None = None,
    password: str | None = None,
    password_hash: str | None = None,
    check_limits: bool = True,
    audit_before: dict | None = None,
) -> dict:
    """Change a user's fields, services, active flag and (optionally) temporary password
    (`password`, or `password_hash` when the caller hashed it already).

    Returns the audit `changes`. A new password is temporary and signs the user out everywhere;
    deactivation signs them out everywhere too. An admin cannot deactivate or demote themselves,
    and the organization keeps at least one active admin.

    For the CSV import only: `check_limits=False` leaves seat limits and the last-admin rule to
    the whole-file check made under the same lock, and `audit_before` gives the values the
    audit diff starts from when the import had to clear a field first (swapped extensions)."""
    encoded = password_hash or (make_password(password) if password else None)
    acting_user = actor.user
    with transaction.atomic():
        contract = contract_lock(user.organization)
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _user_snapshot(user)
        audited_before = {**before, **(audit_before or {})}
        for field in _UPDATABLE:
            if field in data:
                setattr(user, field, data[field])
        after = _user_snapshot(user)
        changes = diff(audited_before, after)

        is_self = acting_user is not None and acting_user.pk == user.pk
        demoted = before["role"] == User.Role.ADMIN and after["role"] != User.Role.ADMIN
        deactivated = before["is_active"] and not after["is_active"]
        if is_self and deactivated:
            raise ValidationError(
                {"is_active": _("You cannot deactivate yourself.")}, code="self_deactivate"
            )
        if is_self and demoted:
            raise ValidationError(
                {"role": _("You cannot remove your own admin role.")}, code="self_demote"
            )
        if (
            check_limits
            and (demoted or deactivated)
            and before["role"] == User.Role.ADMIN
            and before["is_active"]
        ):
            _check_keeps_an_admin(
                contract, user, action=_("deactivated") if deactivated else _("made a member")
            )
        _check_unique(user)

        current = grants_of(user)
        desired = current if grants is None else grants_normalize(grants)
        if desired != current:
            grants_validate(
                contract=contract,
                user=user,
                desired=desired,
                current=current,
                check_seats=check_limits,
            )
            grants_set(user=user, desired=desired, current=current)
            changes["services"] = [grants_summary(current), grants_summary(desired)]

        update_fields = [f for f in _UPDATABLE if before[f] != after[f]]
        if encoded:
            user.password = encoded
            user.must_change_password = True
            update_fields += ["password", "must_change_password"]
        if update_fields:
            _save_unique(user, update_fields=[*update_fields, "updated_at"])
        # A member made admin where admins must use MFA, without a method yet: signed out, so
        # that the next sign-in takes them to enrolment before the console.
        promoted_without_mfa = (
            before["role"] != User.Role.ADMIN
            and after["role"] == User.Role.ADMIN
            and mfa_selectors.mfa_required_for(user=user)
            and not mfa_selectors.has_mfa(user=user)
        )
        if encoded or deactivated or promoted_without_mfa:
            user_sessions_end(user=user)

        if encoded:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.PASSWORD_RESET,
                organization=user.organization,
                target=user,
            )
        if deactivated and set(changes) == {"is_active"}:
            action = AuditEvent.Action.USER_DEACTIVATE
        elif changes.get("is_active") == [False, True] and set(changes) == {"is_active"}:
            action = AuditEvent.Action.USER_ACTIVATE
        elif set(changes) == {"services"}:
            action = AuditEvent.Action.PERMISSIONS_CHANGE
        else:
            action = AuditEvent.Action.USER_UPDATE
        if changes:
            audit_record(
                actor=actor,
                action=action,
                organization=user.organization,
                target=user,
                changes=changes,
            )
    return changes


def user_set_active(*, actor: Actor, user: User, active: bool) -> bool:
    """Activate or deactivate; returns False when the user was already in that state."""
    if user.is_active == active:
        return False
    changes = user_update(actor=actor, user=user, data={"is_active": active})
    return bool(changes)


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


# --- Deletion -----------------------------------------------------------------------------------


def user_delete(*, actor: Actor, user: User) -> dict[str, int]:
    """Delete a user (product.md §3), all in one transaction.

    The row stays as a tombstone keeping only the display name, so call records, meetings,
    participants, themes and bookmarks keep pointing at it unchanged and read "<name> (Deleted)":
    no history row is updated, however many there are. Purged for good: By-user rows, funnel
    team memberships, service grants, sessions, 2-step verification methods and recovery codes,
    the login ID (free again at once), the password and the other personal fields. Guards: not
    yourself; not the organization's last active admin. Returns what was removed."""
    with transaction.atomic():
        contract = contract_lock(user.organization)
        user = User.objects.select_for_update().get(pk=user.pk)
        if actor.user is not None and actor.user.pk == user.pk:
            raise ValidationError(_("You cannot delete yourself."), code="self_delete")
        if user.role == User.Role.ADMIN and user.is_active:
            _check_keeps_an_admin(contract, user, action=_("deleted"))
        before = _user_snapshot(user)
        grants = grants_of(user)

        removed = purge_user_activity(user=user)
        removed["grants"] = ServiceGrant.objects.filter(user=user).delete()[0]
        removed["sessions"] = user_sessions_end(user=user)
        mfa_services.factors_erase(user=user)

        user.deleted_at = timezone.now()
        user.login_id = ""
        user.extension = ""
        user.is_active = False
        user.must_change_password = False
        user.last_login = None
        user.locale = User.Locale.JAPANESE
        user.time_zone = "Asia/Tokyo"
        user.set_unusable_password()
        user.save()

        audit_record(
            actor=actor,
            action=AuditEvent.Action.USER_DELETE,
            organization=user.organization,
            target=user,
            target_label=before["login_id"],
            changes={
                **{k: [v, None] for k, v in before.items() if k != "name"},
                "services": [grants_summary(grants), []],
            },
            detail=", ".join(f"{k}={v}" for k, v in sorted(removed.items())),
        )
    return removed
