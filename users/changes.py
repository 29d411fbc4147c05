"""The one change service (docs/rules.md): every channel that writes users or their services —
the add and edit forms, activate and deactivate, delete, the operators' commands, the CSV
import — hands its proposed changes to `apply_changes`.

It takes the changes for one user or many, works out the state the organization would be in
after them, checks every rule of docs/rules.md once against that state, under the
organization's lock, and then writes and audits in the same transaction. With `commit=False`
it is the dry run: the same checks and the same messages, nothing written (and no lock: the
answer is as of the moment it was asked). A channel only turns its input into `Change`s and
the `Problem`s back into its own output (form errors, stderr lines, report rows).

Rules are checked against the batch as a whole: a seat or an extension freed by one change can
be taken by another, two users may swap extensions or login IDs, and duplicates within the
batch are refused. A change that breaks a rule of its own (a field, a service) is left out of
the whole-batch state, exactly as if it were not there. Nothing is written unless every change
passes.
"""

import secrets
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import islice
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.tasks import task
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.access import acting_on_self
from accounts.batching import lookup_chunks
from accounts.fields import (
    DEFAULT_LOCALE,
    DEFAULT_TIME_ZONE,
    EXTRA_FIELDS,
    FIELD_LABELS,
    NEW_USER_DEFAULTS,
    USER_FIELDS,
)
from accounts.models import Organization, User
from accounts.problems import GENERAL, Problem
from accounts.sessions import users_sessions_end
from accounts.validators import (
    normalize_login_id,
    normalize_user_name,
    offered_time_zones,
    password_rule_errors,
    validate_extension,
    validate_login_id,
    validate_user_name,
)
from analytics.services import purge_user_activity
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor, audit_events_write, audit_record
from mfa import selectors as mfa_selectors
from mfa import services as mfa_services
from permissions import catalog
from permissions.contracts import contract_lock
from permissions.models import SeatCount, ServiceGrant
from permissions.rules import grant_problems, seat_refusals, user_limit_refusals
from permissions.services import Grants, grants_normalize, grants_summary
from users.signals import user_deleted

# Fields a change may set, and the ones an audit record and a stale check compare.
SETTABLE = (*USER_FIELDS, *EXTRA_FIELDS)
SETTABLE_KEYS = frozenset(SETTABLE)
CHUNK = 1000

ADD, UPDATE, UNCHANGED, DELETE, ERROR = "add", "update", "unchanged", "delete", "error"


@dataclass
class Change:
    """A proposed change to one user.

    `user_id` None adds a user; otherwise the user is changed (or, with `delete`, deleted).
    `fields` holds only what changes (keys of SETTABLE); `grants` is the complete set of
    services after the change (code -> level, "" for services without levels), or None to keep
    it, with `grant` and `revoke` adding and removing services on top. `password` sets a new
    temporary password; `generate_password` asks for a random one (returned once, in the
    outcome). `version` is the version of the user the change was made on (an edit page, a
    confirmation, a SCIM If-Match): a change over a newer version is refused. `ref` is the
    channel's own name for the change (a CSV line), used in messages about the batch."""

    user_id: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    grants: Grants | None = None
    grant: Grants = field(default_factory=dict)
    revoke: Iterable[str] = ()
    password: str | None = None
    generate_password: bool = False
    delete: bool = False
    version: int | None = None
    ref: Any = None


@dataclass(frozen=True)
class BatchSpec:
    """Changes to be recorded as one batch (audit.models.ChangeBatch): a bulk action, its
    undo, a run of the scheduled deactivations."""

    kind: str
    detail: str = ""
    undo_of: ChangeBatch | None = None


@dataclass
class Outcome:
    """What became (or, in a dry run, would become) of one change. `changes` is its audit diff,
    {field: [before, after]}, worked out when first read (a dry run of 20,000 new users need
    not build 20,000 of them)."""

    change: Change
    status: str = UNCHANGED  # ADD, UPDATE, UNCHANGED, DELETE or ERROR
    user: User | None = None  # the user after the change (None for a dry-run add)
    problems: list[Problem] = field(default_factory=list)
    temporary_password: str = ""  # generated here: shown once, never stored in clear
    removed: dict[str, int] = field(default_factory=dict)  # what a deletion purged
    plan: "_Plan | None" = field(default=None, repr=False)

    @cached_property
    def changes(self) -> dict[str, list]:
        if self.plan is None or self.status == ERROR:
            return {}
        return self.plan.audit_changes()


@dataclass
class ChangeResult:
    outcomes: list[Outcome]
    committed: bool
    batch: ChangeBatch | None = None  # the batch recorded, when one was asked for

    @property
    def ok(self) -> bool:
        return not any(o.problems for o in self.outcomes)

    @property
    def problems(self) -> list[Problem]:
        return [p for o in self.outcomes for p in o.problems]

    def __iter__(self):
        return iter(self.outcomes)


# --- Passwords --------------------------------------------------------------------------------

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


def hash_passwords(
    passwords: Sequence[str],
    *,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Argon2 hashes of `passwords`. Many are hashed on `workers` threads: argon2-cffi releases
    the GIL while it hashes, so both cores work without weakening the parameters."""
    total = len(passwords)
    if progress:
        progress(0, total)
    if total <= 1 or workers <= 1:
        hashes = [make_password(p) for p in passwords]
    else:
        hashes = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for encoded in pool.map(make_password, passwords, chunksize=16):
                hashes.append(encoded)
                if progress and len(hashes) % 100 == 0:
                    progress(len(hashes), total)
    if progress:
        progress(total, total)
    return hashes


# --- The plan: one change, worked out -----------------------------------------------------------


def snapshot(user: User) -> dict[str, Any]:
    """The values of a user that changes compare, audit and check for staleness."""
    return {key: getattr(user, key) for key in SETTABLE}


@dataclass
class _Plan:
    index: int
    change: Change
    user: User | None  # the stored user (None for an add)
    before: dict[str, Any]
    after: dict[str, Any]
    grants_before: Grants
    grants_after: Grants
    problems: list[Problem] = field(default_factory=list)
    password: str | None = None
    removed: dict[str, int] = field(default_factory=dict)
    _key_of: str | None = field(default=None, repr=False)
    _key: str = field(default="", repr=False)

    @property
    def adding(self) -> bool:
        return self.change.user_id is None

    @property
    def deleting(self) -> bool:
        return self.change.delete

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def key_before(self) -> str:
        return self.user.login_id_key if self.user is not None else ""

    @property
    def key_after(self) -> str:
        if self.deleting:
            return ""
        login_id = self.after.get("login_id") or ""
        # Read several times per plan by the checks and the write: normalised once per value.
        if self._key_of != login_id:
            self._key_of, self._key = login_id, normalize_login_id(login_id)
        return self._key

    def changed(self, key: str) -> bool:
        return self.adding or self.before.get(key) != self.after.get(key)

    def add(self, problem: Problem) -> None:
        problem.index = self.index
        problem.ref = self.change.ref
        self.problems.append(problem)

    def field_diff(self) -> dict[str, list]:
        """{field: [before, after]} of what changes (every field for an add or a deletion)."""
        if self.deleting:
            pairs = {k: [v, None] for k, v in self.before.items() if k != "name"}
        elif self.adding:
            pairs = {k: [None, v] for k, v in self.after.items()}
        else:
            pairs = {
                k: [self.before[k], self.after[k]]
                for k in SETTABLE
                if self.before[k] != self.after[k]
            }
        return {
            k: [_audit_value(before), _audit_value(after)]
            for k, (before, after) in pairs.items()
            if k in USER_FIELDS or before not in ("", None) or after not in ("", None)
        }

    def grants_changed(self) -> bool:
        return self.grants_after != self.grants_before

    def audit_changes(self) -> dict[str, list]:
        changes = self.field_diff()
        if self.grants_changed() or self.adding or self.deleting:
            changes["services"] = [
                None if self.adding else grants_summary(self.grants_before),
                grants_summary(self.grants_after),
            ]
        return changes


def _audit_value(value):
    """A value as the audit log stores it (JSON)."""
    return value.isoformat() if isinstance(value, datetime) else value


def _label(key: str) -> str:
    return str(FIELD_LABELS.get(key, key))


def _invalid_choice(key: str, value) -> Problem:
    return Problem(
        field=key,
        message=_("{label}: “%(value)s” is not one of the offered choices.").format(
            label=_label(key)
        )
        % {"value": value},
        code=f"{key}_invalid",
    )


def _from_validation_error(key: str, error: ValidationError) -> list[Problem]:
    return [
        Problem(field=key, message=message, code=getattr(e, "code", None) or "invalid")
        for e in error.error_list
        for message in e.messages
    ]


def _clean(key: str, value: Any) -> Any:
    """The stored form of a value as any channel may give it (trimmed, NFC)."""
    if key == "login_id":
        return str(value or "").strip()
    if key == "name":
        return normalize_user_name(str(value or ""))
    if key in ("extension", "external_id"):
        return str(value or "").strip()
    if key in ("locale", "time_zone", "role"):
        return "" if value is None else str(value).strip()
    return value


def _required(key: str) -> Problem:
    return Problem(
        field=key,
        message=_("{label} is required.").format(label=_label(key)),
        code="required",
    )


def _choice(choices):
    def check(key: str, value) -> list[Problem]:
        if value == "":
            return [_required(key)]
        return [] if value in choices else [_invalid_choice(key, value)]

    return check


def _validator(validate):
    def check(key: str, value) -> list[Problem]:
        try:
            validate(value)
        except ValidationError as error:
            return _from_validation_error(key, error)
        return []

    return check


def _offered_time_zone(key: str, value) -> list[Problem]:
    zones = offered_time_zones()
    if value == "":
        return [_required(key)]
    if value in zones:
        return []
    return [
        Problem(
            field=key,
            message=_("Time zone “%(value)s” is not offered. Offered: %(zones)s.")
            % {"value": value, "zones": ", ".join(zones)},
            code="time_zone_not_offered",
        )
    ]


def _boolean(key: str, value) -> list[Problem]:
    return [] if isinstance(value, bool) else [_invalid_choice(key, value)]


def _external_id(key: str, value) -> list[Problem]:
    limit = User._meta.get_field("external_id").max_length
    if len(value) <= limit and all(ch.isprintable() for ch in value):
        return []
    return [
        Problem(
            field=key,
            message=_("The external ID must be at most %(max)d printable characters.")
            % {"max": limit},
            code="external_id_invalid",
        )
    ]


def _future(key: str, value) -> list[Problem]:
    if value is None or (isinstance(value, datetime) and value > timezone.now()):
        return []
    return [
        Problem(
            field=key,
            message=_("The deactivation time must be in the future."),
            code="deactivate_at_past",
        )
    ]


# The field rules of docs/rules.md, one checker per field.
FIELD_CHECKS: dict[str, Callable[[str, Any], list[Problem]]] = {
    "login_id": _validator(validate_login_id),
    "name": _validator(validate_user_name),
    "locale": _choice(User.Locale.values),
    "time_zone": _offered_time_zone,
    "role": _choice(User.Role.values),
    "extension": _validator(validate_extension),
    "is_active": _boolean,
    "external_id": _external_id,
    "deactivate_at": _future,
}


# --- Working out the batch ----------------------------------------------------------------------


def _chunks(values: Sequence, size: int = CHUNK):
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Batch:
    """The organization's state around a batch of changes, and the rules over it."""

    def __init__(
        self,
        organization: Organization,
        actor: Actor,
        changes,
        *,
        lock: bool,
        describe,
        progress=None,
    ):
        self.organization = organization
        self.actor = actor
        self.describe = describe
        self.lock = lock
        if lock:
            self.contract = contract_lock(organization)
            self.contract.organization = organization
        else:
            # A dry run reads the contract as the request loaded it (or once, here).
            self.contract = organization.contract
        # The user a password is checked against (similarity, organization words): one object
        # for the batch, given each change's login ID and name in turn.
        self._probe = User(organization=organization)
        self.users = self._load_users(changes)
        # A batch that touches no services (a bulk deactivation of 10,000 users) need not read
        # the services of its users: before and after are then the same, empty, for each.
        touches_services = any(
            c.grants is not None or c.grant or c.revoke or c.delete or c.user_id is None
            for c in changes
        )
        self.grants = self._load_grants(list(self.users) if touches_services else [])
        self.plans = []
        for i, change in enumerate(changes):
            self.plans.append(self._plan(i, change))
            if progress and i % 1000 == 999:
                progress("checking", i + 1, len(changes))

    # Loading ---------------------------------------------------------------------------------

    def _load_users(self, changes) -> dict[int, User]:
        ids = sorted({c.user_id for c in changes if c.user_id is not None})
        users: dict[int, User] = {}
        for chunk in lookup_chunks(ids):
            # Tombstones too (all_objects): "already deleted" is its own answer, never a 500.
            qs = User.all_objects.filter(pk__any_of=chunk, organization_id=self.organization.pk)
            if self.lock:
                qs = qs.select_for_update(of=("self",))
            for user in qs.order_by("pk"):
                user.organization = self.organization
                users[user.pk] = user
        return users

    def _load_grants(self, ids: list[int]) -> dict[int, Grants]:
        grants: dict[int, Grants] = {pk: {} for pk in ids}
        for chunk in lookup_chunks(ids):
            for user_id, code, level in ServiceGrant.objects.filter(
                organization_id=self.organization.pk, user_id__any_of=chunk
            ).values_list("user_id", "service", "level"):
                grants[user_id][code] = level
        return grants

    # One change ------------------------------------------------------------------------------

    def _plan(self, index: int, change: Change) -> _Plan:
        unknown = change.fields.keys() - SETTABLE_KEYS
        if unknown:
            raise ValueError(f"not a user field: {sorted(unknown)}")
        user = None
        if change.user_id is not None:
            user = self.users.get(change.user_id)
        before = snapshot(user) if user is not None else {}
        plan = _Plan(
            index=index,
            change=change,
            user=user,
            before=before,
            after=dict(before),
            grants_before=dict(self.grants.get(change.user_id, {})) if user else {},
            grants_after={},
        )
        if change.user_id is not None and not self._user_exists(plan):
            return plan
        if user is None:
            plan.after = {"login_id": "", "name": "", **NEW_USER_DEFAULTS}
        for key, value in change.fields.items():
            plan.after[key] = _clean(key, value)
        plan.grants_after = self._grants_after(plan)
        if change.delete:
            plan.grants_after = {}
            return plan
        for key in SETTABLE:
            given = key in change.fields or (plan.adding and key in ("login_id", "name"))
            if given and plan.changed(key):
                for problem in FIELD_CHECKS[key](key, plan.after[key]):
                    plan.add(problem)
        if change.password is not None:
            plan.password = change.password
        self._check_password(plan)
        if plan.grants_changed() or plan.adding:
            for problem in grant_problems(
                contract=self.contract, desired=plan.grants_after, current=plan.grants_before
            ):
                plan.add(problem)
        return plan

    def _check_password(self, plan: _Plan) -> None:
        if plan.password is None:
            if plan.adding and not plan.change.generate_password:
                plan.add(_required("password"))
            return
        # Similarity is checked against the values being saved, not the old ones.
        probe = self._probe
        probe.login_id, probe.name = plan.after["login_id"], plan.after["name"]
        try:
            validate_password(plan.password, probe)
        except ValidationError as error:
            for problem in _from_validation_error("password", error):
                plan.add(problem)

    def _user_exists(self, plan: _Plan) -> bool:
        user, change = plan.user, plan.change
        if user is None:
            plan.add(
                Problem(field=GENERAL, message=_("This user does not exist."), code="user_missing")
            )
            return False
        if user.deleted_at is not None:
            plan.add(
                Problem(
                    field=GENERAL,
                    message=_("%(name)s was already deleted.") % {"name": user.name},
                    code="user_deleted",
                )
            )
            return False
        if change.version is not None and change.version != user.version:
            plan.add(
                Problem(
                    field="version",
                    message=_(
                        "%(name)s was changed by someone else after you opened this page. "
                        "Nothing was saved."
                    )
                    % {"name": user.name},
                    code="stale",
                    params={"since": changes_since(user, change.version)},
                )
            )
            return False
        return True

    def _grants_after(self, plan: _Plan) -> Grants:
        change = plan.change
        desired = dict(plan.grants_before) if change.grants is None else dict(change.grants)
        desired.update(change.grant)
        for code in change.revoke:
            desired.pop(code, None)
        return grants_normalize(desired)

    # The whole batch -------------------------------------------------------------------------

    def check(self) -> None:
        self._check_duplicates()
        self._check_login_ids()
        self._check_extensions()
        self._check_user_limit()
        self._check_seats()
        self._check_self()
        self._check_admins()

    def _valid(self) -> list[_Plan]:
        return [p for p in self.plans if p.valid]

    def _check_duplicates(self) -> None:
        seen_users: dict[int, _Plan] = {}
        seen_keys: dict[str, _Plan] = {}
        for plan in self.plans:
            if plan.user is not None:
                first = seen_users.setdefault(plan.user.pk, plan)
                if first is not plan:
                    plan.add(self._also_in(first, "login_id"))
                    continue
            key = plan.key_after
            if not key:
                continue
            first = seen_keys.setdefault(key, plan)
            if first is not plan:
                plan.add(self._also_in(first, "login_id"))

    def _also_in(self, first: _Plan, key: str) -> Problem:
        return Problem(
            field=key,
            message=_("This login ID also appears on %(where)s.")
            % {"where": self.describe(first.change.ref)},
            code="login_id_duplicate",
        )

    def _releasing_login_ids(self) -> set[int]:
        """Users in the batch that give up their login ID (changed, or deleted)."""
        return {
            p.user.pk
            for p in self._valid()
            if p.user is not None and (p.deleting or p.key_after != p.key_before)
        }

    def _check_login_ids(self) -> None:
        wanted = {
            p.key_after: p
            for p in self._valid()
            if not p.deleting and (p.adding or p.key_after != p.key_before)
        }
        if not wanted:
            return
        releasing = self._releasing_login_ids()
        holders: dict[str, int] = {}
        for chunk in lookup_chunks(sorted(wanted)):
            holders.update(
                User.objects.filter(login_id_key__any_of=chunk).values_list("login_id_key", "pk")
            )
        for key, plan in wanted.items():
            holder = holders.get(key)
            if holder is not None and holder not in releasing and holder != plan.change.user_id:
                plan.add(
                    Problem(
                        field="login_id",
                        message=_("This login ID is already in use."),
                        code="login_id_taken",
                    )
                )

    def _check_extensions(self) -> None:
        """Extensions are unique within the organization once the batch is applied: a user in
        the batch counts with the extension the batch gives them, the others with their own."""
        valid = self._valid()
        setting = [
            p for p in valid if not p.deleting and p.after["extension"] and p.changed("extension")
        ]
        if not setting:
            return
        wanted = sorted({p.after["extension"] for p in setting})
        in_batch = {p.user.pk for p in valid if p.user is not None}
        held: Counter[str] = Counter()
        for chunk in lookup_chunks(wanted):
            for pk, extension in User.objects.filter(
                organization_id=self.organization.pk, extension__any_of=chunk
            ).values_list("pk", "extension"):
                if pk not in in_batch:
                    held[extension] += 1
        for plan in valid:
            if not plan.deleting and plan.after["extension"]:
                held[plan.after["extension"]] += 1
        for plan in setting:
            if held[plan.after["extension"]] > 1:
                plan.add(
                    Problem(
                        field="extension",
                        message=_("This extension number is already used in your organization."),
                        code="extension_taken",
                    )
                )

    def _used(self, code: str) -> int:
        return SeatCount.used_of(organization_id=self.organization.pk, code=code)

    def _check_user_limit(self) -> None:
        adds = [p for p in self._valid() if p.adding]
        if not adds:
            return
        used = self._used(SeatCount.USERS) - sum(1 for p in self._valid() if p.deleting)
        for plan, problem in user_limit_refusals(contract=self.contract, used=used, adds=adds):
            plan.add(problem)

    def _check_seats(self) -> None:
        for code in sorted(catalog.SEAT_LIMITED_CODES):
            if self.contract.seat_limit(code) is None or not self.contract.has_service(code):
                continue
            valid = self._valid()
            takers = [p for p in valid if code in p.grants_after and code not in p.grants_before]
            if not takers:
                continue
            releases = sum(
                1 for p in valid if code in p.grants_before and code not in p.grants_after
            )
            for plan, problem in seat_refusals(
                contract=self.contract,
                code=code,
                held_after_releases=self._used(code) - releases,
                takers=takers,
            ):
                plan.add(problem)

    def _check_self(self) -> None:
        for plan in self._valid():
            if not acting_on_self(self.actor.user, plan.user):
                continue
            if plan.deleting:
                plan.add(
                    Problem(
                        field=GENERAL, message=_("You cannot delete yourself."), code="self_delete"
                    )
                )
            elif plan.before["is_active"] and not plan.after["is_active"]:
                plan.add(
                    Problem(
                        field="is_active",
                        message=_("You cannot deactivate yourself."),
                        code="self_deactivate",
                    )
                )
            elif plan.before["role"] == User.Role.ADMIN and plan.after["role"] != User.Role.ADMIN:
                plan.add(
                    Problem(
                        field="role",
                        message=_("You cannot remove your own admin role."),
                        code="self_demote",
                    )
                )

    @staticmethod
    def _active_admin(values: dict) -> bool:
        return values.get("role") == User.Role.ADMIN and values.get("is_active") is True

    def _check_admins(self) -> None:
        """The organization keeps at least one active admin (docs/rules.md)."""
        valid = self._valid()
        removing = [
            p
            for p in valid
            if p.user is not None
            and self._active_admin(p.before)
            and (p.deleting or not self._active_admin(p.after))
        ]
        if not removing:
            return
        gained = sum(
            1
            for p in valid
            if not p.deleting
            and self._active_admin(p.after)
            and (p.adding or not self._active_admin(p.before))
        )
        stored = User.objects.filter(
            organization_id=self.organization.pk, role=User.Role.ADMIN, is_active=True
        ).count()
        if stored - len(removing) + gained > 0:
            return
        for plan in removing:
            if plan.deleting:
                action = _("deleted")
            elif not plan.after["is_active"]:
                action = _("deactivated")
            else:
                action = _("made a member")
            plan.add(
                Problem(
                    field=GENERAL,
                    message=_(
                        "This change would leave the organization without an active admin: "
                        "%(name)s cannot be %(action)s while it is the last active admin. "
                        "Make another user an active admin first."
                    )
                    % {"name": plan.before["name"], "action": action},
                    code="last_admin",
                )
            )

    # Result ----------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return not any(plan.problems for plan in self.plans)

    def result(self, *, committed: bool) -> ChangeResult:
        outcomes = []
        for plan in self.plans:
            if plan.problems:
                status = ERROR
            elif plan.deleting:
                status = DELETE
            elif plan.adding:
                status = ADD
            elif (
                plan.grants_changed()
                or plan.password
                or plan.change.generate_password
                or any(plan.before[k] != plan.after[k] for k in SETTABLE)
            ):
                status = UPDATE
            else:
                status = UNCHANGED
            outcomes.append(
                Outcome(
                    change=plan.change,
                    status=status,
                    user=plan.user,
                    problems=plan.problems,
                    plan=plan,
                )
            )
        return ChangeResult(outcomes=outcomes, committed=committed)


def changes_since(user: User, version: int) -> list[dict]:
    """What was recorded about `user` after `version`: for a stale change's message."""
    events = AuditEvent.objects.filter(
        organization_id=user.organization_id, target=user, target_version__gt=version
    ).order_by("created_at", "id")[:20]
    return [
        {
            "actor": event.actor_label,
            "when": event.created_at,
            "changes": event.changes,
            "action": event.action,
        }
        for event in events
    ]


def describe_since(since: list[dict]) -> list[str]:
    """Lines like "Active: Yes → No (admin@example.com, 2026/12/02 12:47)"."""
    lines = []
    for event in since:
        when = date_format(timezone.localtime(event["when"]), "SHORT_DATETIME_FORMAT")
        parts = [
            f"{_change_label(key)}: {_show(key, before)} → {_show(key, after)}"
            for key, (before, after) in event["changes"].items()
            if key != "password"
        ]
        if not parts:
            parts = [str(AuditEvent.Action(event["action"]).label)]
        lines.append(f"{'; '.join(parts)} ({event['actor']}, {when})")
    return lines


def _change_label(key: str) -> str:
    """A field's name in a sentence about what changed."""
    if key == "is_active":
        return _("Status")
    if key == "services":
        return _("Services")
    return _label(key)


def _show(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if key == "is_active":
        return _("Active") if value else _("Deactivated")
    if key == "role":
        return str(User.Role(value).label) if value in User.Role.values else str(value)
    if key == "locale":
        return str(User.Locale(value).label) if value in User.Locale.values else str(value)
    if key == "services":
        names = []
        for item in value:
            code, _sep, level = item.partition("=")
            service = catalog.BY_CODE.get(code)
            label = service.label if service else code
            if level and service and service.level(level):
                label = f"{label} ({service.level(level).label})"
            names.append(label)
        return ", ".join(names) or "—"
    return str(value)


# --- Writing ------------------------------------------------------------------------------------


def _write(batch: _Batch, hashes: dict[int, str], record: ChangeBatch | None = None) -> None:
    now = timezone.now()
    actor, organization = batch.actor, batch.organization
    plans = batch.plans
    events: list[dict] = []

    deletes = [p for p in plans if p.deleting]
    updates = [p for p in plans if not p.adding and not p.deleting]
    adds = [p for p in plans if p.adding]

    # Deletions first: they free login IDs, extensions and seats the others may take.
    for plan in deletes:
        _delete(plan, actor, now, events)

    # Values that must stay unique are moved out of the way first, so that two users may swap
    # their login IDs or extensions within one batch.
    moving_keys = [p.user.pk for p in updates if p.key_after != p.key_before]
    for pk in moving_keys:
        User.all_objects.filter(pk=pk).update(login_id_key=f"~{pk}~moving")
    moving_ext = [
        p.user.pk
        for p in updates
        if p.before["extension"] and p.before["extension"] != p.after["extension"]
    ]
    for chunk in _chunks(moving_ext):
        User.all_objects.filter(pk__any_of=chunk).update(extension="")

    # Updates: users whose fields change the same way are written by one statement.
    groups: dict[tuple, list[int]] = defaultdict(list)
    touched = []
    for plan in updates:
        values = {k: plan.after[k] for k in SETTABLE if plan.before[k] != plan.after[k]}
        if "login_id" in values:
            values["login_id_key"] = plan.key_after
        if values or plan.grants_changed() or plan.password is not None:
            groups[tuple(sorted(values.items()))].append(plan.user.pk)
            touched.append(plan)
    for items, ids in groups.items():
        for chunk in lookup_chunks(ids):
            User.all_objects.filter(pk__any_of=chunk).update(
                **dict(items), version=F("version") + 1, updated_at=now
            )
    for plan in updates:
        if plan.password is not None:
            User.all_objects.filter(pk=plan.user.pk).update(
                password=hashes[plan.index], must_change_password=True
            )

    # Adds.
    new_users = [
        User(
            organization=organization,
            must_change_password=True,
            password=hashes[plan.index],
            login_id_key=plan.key_after,
            created_at=now,
            updated_at=now,
            **{k: plan.after[k] for k in SETTABLE},
        )
        for plan in adds
    ]
    for chunk in _chunks(list(zip(adds, new_users, strict=True))):
        created = User.objects.bulk_create([user for _plan, user in chunk])
        for (plan, _user), user in zip(chunk, created, strict=True):
            plan.user = user

    _write_grants([p for p in (*updates, *adds) if p.grants_changed()], organization)

    # Sessions end for users deactivated or given a new temporary password, and for members
    # made admins where admins must use MFA but who have no method yet: their next sign-in
    # takes them to enrolment before the console.
    ending = [
        p.user.pk
        for p in updates
        if p.password is not None or (p.before["is_active"] and not p.after["is_active"])
    ]
    promoted = [
        p.user
        for p in updates
        if p.before["role"] != User.Role.ADMIN and p.after["role"] == User.Role.ADMIN
    ]
    if promoted and mfa_selectors.admins_must_use_mfa(organization_id=organization.pk):
        ending += [user.pk for user in promoted if not mfa_selectors.has_mfa(user=user)]
    if ending:
        users_sessions_end(user_ids=ending)

    for plan in touched:
        plan.user.version += 1
        for key in SETTABLE:
            setattr(plan.user, key, plan.after[key])
        plan.user.login_id_key = plan.key_after
        if plan.password is not None:
            events.append(
                {
                    "actor": actor,
                    "action": AuditEvent.Action.PASSWORD_RESET,
                    "organization": organization,
                    "target": plan.user,
                    "target_version": plan.user.version,
                }
            )
        changes = plan.audit_changes()
        if changes:
            events.append(
                {
                    "actor": actor,
                    "action": _update_action(changes),
                    "organization": organization,
                    "target": plan.user,
                    "changes": changes,
                    "target_version": plan.user.version,
                }
            )
    for plan in adds:
        events.append(
            {
                "actor": actor,
                "action": AuditEvent.Action.USER_CREATE,
                "organization": organization,
                "target": plan.user,
                "changes": plan.audit_changes(),
                "target_version": plan.user.version,
            }
        )
    if record is not None and events:
        # (A batch that changed nobody, every user already so, is not recorded.)
        record.size = len({entry["target"].pk for entry in events})
        record.save()
    # The records as audit_event()'s arguments: a large batch's are written without building a
    # model instance each (audit.services.audit_events_write).
    audit_events_write(events, batch=record)


def _update_action(changes: dict) -> str:
    # A scheduled deactivation clears its schedule in the same change: still a deactivation.
    if "is_active" in changes and set(changes) <= {"is_active", "deactivate_at"}:
        activated = changes["is_active"][1]
        return AuditEvent.Action.USER_ACTIVATE if activated else AuditEvent.Action.USER_DEACTIVATE
    if set(changes) == {"services"}:
        return AuditEvent.Action.PERMISSIONS_CHANGE
    return AuditEvent.Action.USER_UPDATE


def _write_grants(plans: list[_Plan], organization: Organization) -> None:
    """Grants as a diff: removed ones deleted, changed levels updated, new ones inserted, each
    grouped into as few statements as the batch allows."""
    removed: dict[str, list[int]] = defaultdict(list)
    relevel: dict[tuple[str, str], list[int]] = defaultdict(list)
    added: list[ServiceGrant] = []
    for plan in plans:
        before, after = plan.grants_before, plan.grants_after
        for code in before.keys() - after.keys():
            removed[code].append(plan.user.pk)
        for code, level in after.items():
            if code not in before:
                added.append(
                    ServiceGrant(
                        organization=organization, user=plan.user, service=code, level=level
                    )
                )
            elif before[code] != level:
                relevel[(code, level)].append(plan.user.pk)
    for code, ids in removed.items():
        for chunk in _chunks(ids):
            ServiceGrant.objects.filter(user_id__any_of=chunk, service=code).delete()
    for (code, level), ids in relevel.items():
        for chunk in _chunks(ids):
            ServiceGrant.objects.filter(user_id__any_of=chunk, service=code).update(level=level)
    for chunk in _chunks(added):
        ServiceGrant.objects.bulk_create(chunk)


def _delete(plan: _Plan, actor: Actor, now, events: list[dict]) -> None:
    """docs/rules.md: the row stays as a tombstone keeping only the display name, so call
    records, meetings, participants, themes and bookmarks keep pointing at it unchanged and
    read "<name> (Deleted)". Purged for good: By-user rows, funnel team memberships, grants,
    sessions, 2-step verification methods and recovery codes, the login ID (free again at
    once), the password, the other personal fields."""
    user = plan.user
    removed = purge_user_activity(user=user)
    removed["grants"] = ServiceGrant.objects.filter(user=user).delete()[0]
    for _receiver, counts in user_deleted.send(sender=User, user=user):
        removed.update(counts or {})
    removed["sessions"] = users_sessions_end(user_ids=[user.pk])
    mfa_services.factors_erase(user=user)
    user.deleted_at = now
    user.login_id = ""
    user.extension = ""
    user.external_id = ""
    user.deactivate_at = None
    user.is_active = False
    user.must_change_password = False
    user.last_login = None
    user.locale = DEFAULT_LOCALE
    user.time_zone = DEFAULT_TIME_ZONE
    user.version += 1
    user.set_unusable_password()
    user.save()
    plan.removed = removed
    events.append(
        {
            "actor": actor,
            "action": AuditEvent.Action.USER_DELETE,
            "organization": user.organization,
            "target": user,
            "target_label": plan.before["login_id"],
            "changes": plan.audit_changes(),
            "detail": ", ".join(f"{k}={v}" for k, v in sorted(removed.items())),
            "target_version": user.version,
        }
    )


# --- The service ----------------------------------------------------------------------------------


def apply_changes(
    *,
    organization: Organization,
    actor: Actor,
    changes: Sequence[Change],
    commit: bool = True,
    describe: Callable[[Any], str] = str,
    progress: Callable[[str, int, int], None] | None = None,
    batch: BatchSpec | None = None,
) -> ChangeResult:
    """Check `changes` as one batch and, with `commit`, write them all or none; with `batch`,
    recorded as one ChangeBatch whose members are the audit records.

    `describe(ref)` names a change in messages about the batch ("line 14"). `progress(phase,
    done, total)` follows the slow parts: "checking" the changes of a dry run, "hashing" then
    "writing" those of a commit.
    Passwords are hashed outside the organization's lock (argon2 takes a while per password,
    and other admins must not wait for it); everything else happens under the lock, in one
    transaction."""
    changes = list(changes)
    if not commit:
        with transaction.atomic():
            state = _Batch(
                organization, actor, changes, lock=False, describe=describe, progress=progress
            )
            state.check()
            return state.result(committed=False)

    hashes: dict[int, str] = {}
    passwords: dict[int, str] = {}
    generated: dict[int, str] = {}
    if any(c.password is not None or c.generate_password for c in changes):
        with transaction.atomic():
            first = _Batch(organization, actor, changes, lock=False, describe=describe)
            first.check()
        if not first.result(committed=False).ok:
            return first.result(committed=False)
        for plan in first.plans:
            if plan.change.password is not None:
                passwords[plan.index] = plan.change.password
            elif plan.change.generate_password:
                probe = User(
                    organization=organization,
                    login_id=plan.after["login_id"],
                    name=plan.after["name"],
                )
                generated[plan.index] = passwords[plan.index] = generate_temporary_password(probe)
        order = sorted(passwords)
        hashed = hash_passwords(
            [passwords[i] for i in order],
            progress=(lambda done, total: progress("hashing", done, total)) if progress else None,
        )
        hashes = dict(zip(order, hashed, strict=True))

    if progress:
        progress("writing", 0, len(changes))

    def checked() -> _Batch:
        state = _Batch(organization, actor, changes, lock=True, describe=describe)
        for plan in state.plans:
            if plan.index in generated:
                plan.password = generated[plan.index]
        state.check()
        return state

    record = None
    with transaction.atomic():
        state = checked()
        # (Outcomes are built once, at the end: 10,000 of them cost more than the check.)
        ok = state.ok
        if ok:
            if batch is not None:
                record = ChangeBatch(
                    organization=organization,
                    kind=batch.kind,
                    detail=batch.detail,
                    actor=actor.user,
                    actor_label=actor.label[:300],
                    undo_of=batch.undo_of,
                )
            try:
                with transaction.atomic():
                    _write(state, hashes, record)
            except IntegrityError:
                # Login IDs are unique across organizations, whose changes do not share a lock:
                # another organization's transaction took one and committed meanwhile. Checked
                # again, the batch is refused with the usual message.
                state = checked()
                ok = state.ok
                if ok:
                    raise
        if not ok:
            # Nothing of a refused batch may stay, whatever ran in this transaction.
            transaction.set_rollback(True)
            return state.result(committed=False)
        result = state.result(committed=True)
        result.batch = record if record is not None and not record._state.adding else None
        _schedule(state.plans)
    for outcome, plan in zip(result.outcomes, state.plans, strict=True):
        outcome.user = plan.user
        outcome.removed = plan.removed
        if plan.index in generated:
            outcome.temporary_password = generated[plan.index]
    if progress:
        progress("writing", len(changes), len(changes))
    return result


# --- Undo -----------------------------------------------------------------------------------------


UNDOABLE = frozenset(
    {
        ChangeBatch.Kind.DEACTIVATE,
        ChangeBatch.Kind.ACTIVATE,
        ChangeBatch.Kind.GRANT,
        ChangeBatch.Kind.REVOKE,
    }
)


def undo_batch(
    *, organization: Organization, actor: Actor, batch_id, commit: bool = True
) -> ChangeResult:
    """Undo a batch (other than a deletion) within ChangeBatch.UNDO_DAYS: restore the previous
    values of exactly the fields and services the batch changed, checked by apply_changes like
    any change (a seat taken since refuses it, with the reason), recorded as a batch of its own.
    A user whose field has been changed again since is not silently reverted: that is a
    problem of its own ("undo_changed_since")."""
    record = ChangeBatch.objects.filter(organization=organization, pk=batch_id).first()
    refusal = _undo_refusal(organization, record)
    if refusal is not None:
        return ChangeResult(
            outcomes=[Outcome(change=Change(), status=ERROR, problems=[refusal])], committed=False
        )
    events = list(
        AuditEvent.objects.filter(organization=organization, batch=record, target__isnull=False)
        .exclude(changes={})
        .order_by("id")
    )
    current = {
        u.pk: u
        for u in User.all_objects.filter(
            organization=organization, pk__in=[e.target_id for e in events]
        )
    }
    grants: dict[int, Grants] = defaultdict(dict)
    for user_id, code, level in ServiceGrant.objects.filter(
        organization=organization, user_id__in=list(current)
    ).values_list("user_id", "service", "level"):
        grants[user_id][code] = level
    undos = [_undo_change(event, current.get(event.target_id), grants) for event in events]
    changed_since = [
        Problem(
            field=GENERAL,
            message=_(
                "%(name)s was changed again after this batch (%(fields)s): undo that change "
                "first, or leave it."
            )
            % {
                "name": current[change.user_id].name,
                "fields": ", ".join(_change_label(key) for key in since),
            },
            code="undo_changed_since",
            index=i,
        )
        for i, (change, since) in enumerate(undos)
        if since
    ]
    # Changed since: the undo is refused as a whole, like any batch with a problem.
    result = apply_changes(
        organization=organization,
        actor=actor,
        changes=[change for change, _since in undos],
        commit=commit and not changed_since,
        batch=BatchSpec(kind=ChangeBatch.Kind.UNDO, undo_of=record),
    )
    for problem in changed_since:
        result.outcomes[problem.index].problems.append(problem)
        result.outcomes[problem.index].status = ERROR
    return result


def _undo_refusal(organization: Organization, record: ChangeBatch | None) -> Problem | None:
    if record is None:
        return Problem(field=GENERAL, message=_("No such batch of changes."), code="batch_missing")
    if record.kind not in UNDOABLE:
        return Problem(
            field=GENERAL,
            message=_("Deletions and undos cannot be undone."),
            code="batch_not_undoable",
        )
    if ChangeBatch.objects.filter(organization=organization, undo_of=record).exists():
        return Problem(
            field=GENERAL, message=_("This batch was already undone."), code="batch_undone"
        )
    if timezone.now() > record.undoable_until:
        return Problem(
            field=GENERAL,
            message=_("A batch can be undone for %(days)d days after it was made.")
            % {"days": ChangeBatch.UNDO_DAYS},
            code="batch_too_old",
        )
    return None


def _undo_change(event: AuditEvent, user: User | None, grants) -> tuple[Change, list]:
    """The change that puts back what `event` changed, and the fields changed since (if any)."""
    if user is None:
        return Change(user_id=event.target_id), []
    fields, since = {}, []
    grant: Grants = {}
    revoke: list[str] = []
    for key, (before, after) in event.changes.items():
        if key in SETTABLE_KEYS:
            if _audit_value(getattr(user, key)) != after:
                since.append(key)
            else:
                fields[key] = before
        elif key == "services":
            was, became = (_grants_of_summary(x) for x in (before, after))
            now = grants.get(user.pk, {})
            for code in was.keys() | became.keys():
                if was.get(code) == became.get(code):
                    continue
                if now.get(code) != became.get(code):
                    since.append("services")
                elif code in was:
                    grant[code] = was[code]
                else:
                    revoke.append(code)
    change = Change(user_id=user.pk, fields=fields, grant=grant, revoke=revoke)
    return change, sorted(set(since))


def _grants_of_summary(summary) -> Grants:
    grants: Grants = {}
    for item in summary or []:
        code, _sep, level = item.partition("=")
        grants[code] = level
    return grants


# --- Scheduled deactivation -----------------------------------------------------------------------


def _schedule(plans: list[_Plan]) -> None:
    """After the commit, the worker is asked to run at each newly set deactivation time."""
    due = sorted(
        {
            p.after["deactivate_at"]
            for p in plans
            if not p.problems
            and not p.deleting
            and p.after.get("deactivate_at") is not None
            and p.after.get("deactivate_at") != p.before.get("deactivate_at")
        }
    )
    for when in due:
        transaction.on_commit(lambda when=when: _enqueue_deactivations(when))


def _enqueue_deactivations(when: datetime) -> None:
    # A backend that runs tasks at once (the tests') cannot wait: there the sweep is called.
    if deactivate_due_users.get_backend().supports_defer:
        deactivate_due_users.using(run_after=when).enqueue()


@task()
def deactivate_due_users() -> int:
    """Deactivate every user whose scheduled time has come, through apply_changes, one
    organization's users as one batch; returns how many were deactivated. Run by the task
    worker at each scheduled time (and by the deactivate_due_users command, for a cron)."""
    return run_due_deactivations()


def run_due_deactivations(now: datetime | None = None) -> int:
    now = now or timezone.now()
    done = 0
    due = (
        User.objects.filter(deactivate_at__lte=now)
        .values_list("organization_id", "pk")
        .order_by("organization_id", "pk")
    )
    by_org: dict[int, list[int]] = defaultdict(list)
    for organization_id, user_id in due:
        by_org[organization_id].append(user_id)
    actor = Actor(user=None, label="schedule", channel=AuditEvent.Channel.SCHEDULE)
    for organization_id, user_ids in by_org.items():
        organization = Organization.objects.select_related("contract").get(pk=organization_id)
        changes = [
            Change(user_id=pk, fields={"is_active": False, "deactivate_at": None})
            for pk in user_ids
        ]
        result = apply_changes(
            organization=organization,
            actor=actor,
            changes=changes,
            batch=BatchSpec(kind=ChangeBatch.Kind.SCHEDULE),
        )
        if not result.committed:
            # The ones that can be deactivated are; the others (the last active admin) keep
            # their seat, lose the schedule, and the refusal is recorded.
            refused = {o.change.user_id: o.problems for o in result.outcomes if o.problems}
            ok = [c for c in changes if c.user_id not in refused]
            if ok:
                result = apply_changes(
                    organization=organization,
                    actor=actor,
                    changes=ok,
                    batch=BatchSpec(kind=ChangeBatch.Kind.SCHEDULE),
                )
            _record_refused_schedules(organization, actor, refused)
        done += sum(1 for o in result.outcomes if o.status == UPDATE and result.committed)
    return done


def _record_refused_schedules(organization, actor: Actor, refused: dict) -> None:
    """A scheduled deactivation that a rule refuses (the last active admin) is dropped, and the
    refusal is recorded where the admins will see it."""
    with transaction.atomic():
        for user in User.objects.filter(organization=organization, pk__in=list(refused)):
            user.deactivate_at = None
            user.version += 1
            user.save(update_fields=["deactivate_at", "version", "updated_at"])
            audit_record(
                actor=actor,
                action=AuditEvent.Action.USER_DEACTIVATE,
                organization=organization,
                target=user,
                outcome=AuditEvent.Outcome.FAILURE,
                detail=" ".join(p.message for p in refused[user.pk]),
                target_version=user.version,
            )


# --- Messages ---------------------------------------------------------------------------------


def problem_message(problem: Problem) -> str:
    """A problem as the console shows it, with what changed when the change was stale."""
    text = problem.text
    since = problem.params.get("since")
    if problem.code == "stale" and since:
        text += " " + pgettext("changed since", "Changed since: %(changes)s.") % {
            "changes": "; ".join(describe_since(since))
        }
    return text
