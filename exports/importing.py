"""Bulk add and update from CSV (product.md §5; domain.md §5.1, §5.2): validate every row against
every rule with nothing written (the dry run), then apply all or nothing.

The rules are the same as the forms' and services': each row is bound to users.forms.UserForm,
grants go through permissions.services.grants_validate, and apply() calls users.services for every
row, inside one transaction, so the audit log gets one entry per user. What only the whole file
can tell (duplicates, seat limits, the last admin) is checked over the file's final state.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.validators import normalize_login_id
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from permissions import catalog
from permissions.contracts import contract_lock
from permissions.models import ServiceGrant
from permissions.services import Grants, grants_validate
from users import services
from users.forms import UserForm

from . import csv_format

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024

ADD, UPDATE, UNCHANGED, ERROR = "add", "update", "unchanged", "error"
USER_FIELDS = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")


@dataclass
class RowResult:
    line: int
    login_id: str
    status: str = UNCHANGED
    changes: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column label, message)
    # What apply() needs (never shown): the user's final values and grants.
    data: dict = field(default_factory=dict)
    grants: Grants = field(default_factory=dict)
    password: str = ""
    user_id: int | None = None

    def error(self, column: str, message: str) -> None:
        self.errors.append((column, message))
        self.status = ERROR


@dataclass
class Report:
    rows: list[RowResult] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(row.status for row in self.rows)
        return {k: counts.get(k, 0) for k in (ADD, UPDATE, UNCHANGED, ERROR)}

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(r.status == ERROR for r in self.rows)

    @property
    def error_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.status == ERROR]

    def to_json(self, *, with_data: bool = False) -> dict:
        rows = []
        for r in self.rows:
            row = {
                "line": r.line,
                "login_id": r.login_id,
                "status": r.status,
                "changes": r.changes,
                "errors": r.errors,
            }
            if with_data:
                row.update(data=r.data, grants=r.grants, user_id=r.user_id)
            rows.append(row)
        return {
            "rows": rows,
            "file_errors": self.file_errors,
            "unknown_columns": self.unknown_columns,
            "counts": self.counts,
        }


def _label(col_key: str, columns: dict[str, csv_format.Column], language: str) -> str:
    col = columns.get(col_key)
    return col.label(language) if col else col_key


def _flag(value: str) -> bool | None:
    value = value.strip()
    if value in ("1", "0"):
        return value == "1"
    return None


def validate_file(
    *,
    organization: Organization,
    data: bytes,
    encoding: str,
    acting_user: User | None,
    language: str,
) -> Report:
    """The dry run: classify every row, nothing written."""
    report = Report()
    if len(data) > MAX_BYTES:
        report.file_errors.append(
            _("The file is larger than %(mb)d MB. Split it into smaller files.")
            % {"mb": MAX_BYTES // (1024 * 1024)}
        )
        return report
    try:
        text = csv_format.decode_file(data, encoding)
        records = list(csv_format.read_rows(text))
    except csv_format.CsvFormatError as error:
        report.file_errors.append(str(error))
        return report
    if not records:
        report.file_errors.append(_("The file is empty."))
        return report
    contract = organization.contract
    columns = csv_format.import_columns(contract)
    header = records[0][1]
    mapping, report.unknown_columns = csv_format.match_header(header, columns)
    by_key = {col.key: col for col in mapping.values()}
    if "login_id" not in by_key:
        report.file_errors.append(
            _("The first line must be the header row, with a “%(column)s” column.")
            % {"column": csv_format.columns_for(contract)[0].label(language)}
        )
        return report
    body = records[1:]
    if len(body) > MAX_ROWS:
        report.file_errors.append(
            _("The file has %(rows)d rows; at most %(max)d can be imported at once.")
            % {"rows": len(body), "max": MAX_ROWS}
        )
        return report

    existing = _existing_users(organization, body, mapping)
    for line, cells in body:
        values = {
            col.key: csv_format.restore(cells[i]) if i < len(cells) else ""
            for i, col in mapping.items()
        }
        report.rows.append(
            _validate_row(
                line=line,
                values=values,
                present=set(by_key),
                organization=organization,
                existing=existing,
                columns=by_key,
                language=language,
            )
        )
    _check_whole_file(report, organization, existing, by_key, acting_user, language)
    return report


def _existing_users(organization, body, mapping) -> dict:
    login_index = next(i for i, col in mapping.items() if col.key == "login_id")
    keys = {
        normalize_login_id(csv_format.restore(cells[login_index]))
        for _, cells in body
        if login_index < len(cells)
    }
    keys.discard("")
    ours: dict[str, User] = {}
    elsewhere: set[str] = set()
    key_list = sorted(keys)
    for start in range(0, len(key_list), 1000):
        chunk = key_list[start : start + 1000]
        for user in User.objects.filter(login_id_key__in=chunk):
            if user.organization_id == organization.pk:
                ours[user.login_id_key] = user
            else:
                elsewhere.add(user.login_id_key)
    grants: dict[int, Grants] = {u.pk: {} for u in ours.values()}
    ids = list(grants)
    for start in range(0, len(ids), 1000):
        for user_id, code, level in ServiceGrant.objects.filter(
            user_id__in=ids[start : start + 1000]
        ).values_list("user_id", "service", "level"):
            grants[user_id][code] = level
    return {"ours": ours, "elsewhere": elsewhere, "grants": grants}


def _validate_row(*, line, values, present, organization, existing, columns, language):
    raw_login = values.get("login_id", "").strip()
    row = RowResult(line=line, login_id=raw_login)
    key = normalize_login_id(raw_login)
    user = existing["ours"].get(key)
    label = lambda k: _label(k, columns, language)  # noqa: E731

    if key in existing["elsewhere"]:
        row.error(label("login_id"), _("This login ID is already in use."))
        return row
    current = (
        {f: getattr(user, f) for f in USER_FIELDS}
        if user
        else {
            "login_id": raw_login,
            "name": "",
            "extension": "",
            "locale": User.Locale.JAPANESE,
            "time_zone": "Asia/Tokyo",
            "role": User.Role.MEMBER,
            "is_active": True,
        }
    )
    current_grants = dict(existing["grants"].get(user.pk, {})) if user else {}
    final = dict(current)
    final["login_id"] = raw_login if not user else user.login_id
    final_grants = dict(current_grants)

    def take(key_: str, convert) -> None:
        if key_ not in present:
            return
        cell = values.get(key_, "").strip()
        if cell == "" and user is not None and key_ not in ("name",):
            return  # a blank cell keeps the current value on update
        converted = convert(cell)
        if converted is None:
            return
        final[key_] = converted

    def bad(key_: str, message: str):
        row.error(label(key_), message)

    # Plain fields (validated by the form below).
    if "name" in present:
        final["name"] = values.get("name", "")
    if "extension" in present:
        extension = values.get("extension", "").strip()
        if extension or user is None:  # a blank cell keeps an existing user's extension
            final["extension"] = extension

    def locale(cell):
        if cell == "":
            return User.Locale.JAPANESE
        if cell.lower() not in csv_format.LOCALE_FROM_CODE:
            bad("locale", _("Locale must be 0 (Japanese) or 1 (English)."))
            return None
        return csv_format.LOCALE_FROM_CODE[cell.lower()]

    def time_zone(cell):
        if cell == "":
            return "Asia/Tokyo"
        zone = csv_format.TIME_ZONE_CODES.get(cell, cell)
        if zone not in settings.USER_TIME_ZONES and not (user and zone == user.time_zone):
            bad(
                "time_zone",
                _("Time zone “%(value)s” is not offered. Offered: %(zones)s.")
                % {"value": cell, "zones": ", ".join(settings.USER_TIME_ZONES)},
            )
            return None
        return zone

    def flag(key_):
        def convert(cell):
            if cell == "":
                return key_ == "is_active"  # blank: active, not granted
            result = _flag(cell)
            if result is None:
                bad(key_, _("Use 1 (yes) or 0 (no)."))
            return result

        return convert

    take("locale", locale)
    take("time_zone", time_zone)
    take("is_active", flag("is_active"))
    if catalog.ADMIN in present:
        cell = values.get(catalog.ADMIN, "").strip()
        if not (cell == "" and user is not None):
            admin = flag(catalog.ADMIN)(cell)
            if admin is not None:
                final["role"] = User.Role.ADMIN if admin else User.Role.MEMBER

    for service in catalog.GRANTABLE:
        code = service.code
        if code not in present:
            continue
        cell = values.get(code, "").strip()
        if cell == "" and user is not None:
            continue
        if service.has_levels:
            level = csv_format.MEETING_ACCESS_FROM_CODE.get(cell or "0")
            if level is None:
                bad(code, _("Use 0 (none), 1 (host only) or 2 (all)."))
                continue
            if level == catalog.MEETING_ACCESS_NONE:
                final_grants.pop(code, None)
            else:
                final_grants[code] = level
        else:
            on = flag(code)(cell)
            if on is None:
                continue
            if on:
                final_grants[code] = ""
            else:
                final_grants.pop(code, None)

    password = values.get("password", "") if "password" in present else ""
    row.password = password
    if row.status == ERROR:
        return row

    form_data = {
        **{k: final[k] for k in ("login_id", "name", "extension", "locale", "time_zone", "role")},
        "password": password,
    }
    if user is not None and final["is_active"]:
        form_data["is_active"] = "on"
    elif user is not None:
        form_data["is_active"] = ""
    if user is None and not password:
        form_data["password"] = services.generate_temporary_password(
            User(organization=organization, login_id=raw_login, name=final["name"])
        )
    form = UserForm(form_data, organization=organization, instance=user)
    if not form.is_valid():
        for field_key, messages in form.errors.items():
            column = (
                label(field_key) if field_key in columns or field_key == "login_id" else field_key
            )
            if field_key == "password":
                column = _label("password", columns, language) if "password" in columns else column
            for message in messages:
                row.error(column, message)
        return row
    cleaned = form.cleaned_data
    final.update({k: cleaned[k] for k in ("login_id", "name", "extension")})

    try:
        grants_validate(
            contract=organization.contract,
            user=user or User(organization=organization),
            desired=final_grants,
            current=current_grants,
            check_seats=False,  # counted over the whole file in _check_whole_file()
        )
    except ValidationError as error:
        for key_, errors in error.error_dict.items():
            column = label(key_.removeprefix("service_"))
            for message in ValidationError(errors).messages:
                row.error(column, message)
        return row

    row.data = final
    row.grants = final_grants
    row.user_id = user.pk if user else None
    if user is None:
        row.status = ADD
        row.changes = [label(k) for k in ("login_id", "name") if k in present]
        return row
    changed = [k for k in USER_FIELDS if final[k] != current[k]]
    changed_services = sorted(
        set(final_grants.items()) ^ set(current_grants.items()), key=lambda kv: kv[0]
    )
    row.changes = [label(k if k != "role" else catalog.ADMIN) for k in changed]
    row.changes += sorted({label(code) for code, _ in changed_services})
    if password:
        row.changes.append(_label("password", columns, language))
    row.status = UPDATE if row.changes else UNCHANGED
    return row


def _check_whole_file(report, organization, existing, columns, acting_user, language):
    """Rules only the whole file can break: duplicates, seat limits, the last admin, yourself."""
    label = lambda k: _label(k, columns, language)  # noqa: E731
    seen: dict[str, RowResult] = {}
    for row in report.rows:
        key = normalize_login_id(row.login_id)
        if not key:
            continue
        if key in seen:
            row.error(
                label("login_id"),
                _("This login ID also appears on line %(line)d.") % {"line": seen[key].line},
            )
        else:
            seen[key] = row
    valid = [r for r in report.rows if r.status in (ADD, UPDATE, UNCHANGED)]
    contract = organization.contract
    in_file = {r.user_id for r in valid if r.user_id}

    # Extensions: unique among the organization's users once the file is applied.
    others = (
        User.objects.filter(organization=organization)
        .exclude(extension="")
        .exclude(pk__in=[r.user_id for r in report.rows if r.user_id])
        .values_list("extension", flat=True)
    )
    taken = Counter(others)
    for row in valid:
        ext = row.data.get("extension")
        if ext:
            taken[ext] += 1
    for row in valid:
        ext = row.data.get("extension")
        if ext and taken[ext] > 1:
            row.error(
                label("extension"), _("This extension number is already used in your organization.")
            )

    # Users: every add takes a seat.
    adds = [r for r in report.rows if r.status == ADD]
    used = User.objects.filter(organization=organization).count()
    free = contract.user_limit - used
    for index, row in enumerate(adds):
        if index >= free:
            row.error(
                label("login_id"),
                _(
                    "Your contract allows %(limit)d users: this row would be user %(n)d. To change "
                    "the number of users in your contract, please contact us."
                )
                % {"limit": contract.user_limit, "n": used + index + 1},
            )

    # Seat-limited services, counted over the file's final state: the users who keep their seat
    # first (wherever they are in the file), then the new takers in file order.
    for code in sorted(catalog.SEAT_LIMITED_CODES):
        limit = contract.seat_limit(code)
        if limit is None or not contract.has_service(code):
            continue
        kept = (
            ServiceGrant.objects.filter(organization=organization, service=code)
            .exclude(user_id__in=in_file)
            .count()
        )
        live = [r for r in report.rows if r.status in (ADD, UPDATE, UNCHANGED)]

        def had(row, code=code):
            return bool(row.user_id) and code in existing["grants"].get(row.user_id, {})

        count = kept + sum(1 for r in live if code in r.grants and had(r))
        for row in live:
            if code not in row.grants or had(row):
                continue
            count += 1
            if count > limit:
                row.error(
                    label(code),
                    _(
                        "All %(limit)d %(service)s seats in your contract would be in use. "
                        "To change your contract, please contact us."
                    )
                    % {"limit": limit, "service": catalog.get(code).label},
                )

    # Yourself, and the organization's last active admin.
    for row in report.rows:
        if acting_user is not None and row.user_id == acting_user.pk and row.status == UPDATE:
            if not row.data["is_active"]:
                row.error(label("is_active"), _("You cannot deactivate yourself."))
            elif row.data["role"] != User.Role.ADMIN:
                row.error(label(catalog.ADMIN), _("You cannot remove your own admin role."))
    admins_after = set(
        User.objects.filter(organization=organization, role=User.Role.ADMIN, is_active=True)
        .exclude(pk__in=in_file)
        .values_list("pk", flat=True)
    )
    final_admins = [
        r
        for r in report.rows
        if r.status in (ADD, UPDATE, UNCHANGED)
        and r.data.get("role") == User.Role.ADMIN
        and r.data.get("is_active")
    ]
    if not admins_after and not final_admins:
        for row in report.rows:
            if row.status == UPDATE and row.user_id:
                before = existing["ours"].get(normalize_login_id(row.login_id))
                if before and before.role == User.Role.ADMIN and before.is_active:
                    row.error(
                        label(catalog.ADMIN),
                        _(
                            "This file would leave the organization without an active admin. "
                            "Keep at least one user an active admin."
                        ),
                    )


# --- Apply --------------------------------------------------------------------------------------


def hash_passwords(passwords: list[str], *, workers: int = 2, progress=None) -> list[str]:
    """Argon2 hashes of `passwords`, on `workers` threads: argon2-cffi releases the GIL while
    it hashes, so two threads use both cores without weakening the parameters."""
    hashes: list[str] = [""] * len(passwords)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, encoded in enumerate(pool.map(make_password, passwords, chunksize=16)):
            hashes[index] = encoded
            if progress and index % 100 == 99:
                progress(index + 1)
    if progress:
        progress(len(passwords))
    return hashes


@dataclass
class ApplyResult:
    added: int
    updated: int
    generated_passwords: list[tuple[str, str]]  # (login ID, temporary password)


def apply_file(
    *,
    organization: Organization,
    data: bytes,
    encoding: str,
    admin: User | None,
    language: str,
    actor: Actor,
    progress=None,
    on_write=None,
) -> tuple[Report, ApplyResult | None]:
    """Apply a file, all or nothing; `progress(done, total)` follows the password hashing.
    Returns the report it was applied with, and the result (None when the file no longer
    passes: nothing written).

    1. Validate and hash the temporary passwords, outside any lock (hashing takes minutes for
       thousands of users, and must not block the organization's admins).
    2. Lock the contract, validate again against the database as it is now, and write every
       row in one transaction: the final state was checked as a whole, so the rows are written
       without their one-by-one limit checks (a seat or an extension may move between users in
       the same file), in an order the database constraints accept."""

    def check() -> Report:
        return validate_file(
            organization=organization,
            data=data,
            encoding=encoding,
            acting_user=admin,
            language=language,
        )

    report = check()
    if not report.ok:
        return report, None
    passwords: dict[str, str] = {}
    generated: dict[str, str] = {}
    for row in report.rows:
        key = normalize_login_id(row.login_id)
        if row.password:
            passwords[key] = row.password
        elif row.status == ADD:
            generated[key] = passwords[key] = _generated_password(organization, row)
    keys = list(passwords)
    if progress:
        progress(0, len(keys))
    hashed = dict(
        zip(
            keys,
            hash_passwords(
                [passwords[k] for k in keys],
                progress=(lambda done: progress(done, len(keys))) if progress else None,
            ),
            strict=True,
        )
    )
    if on_write:
        on_write()
    with transaction.atomic():
        contract_lock(organization)
        report = check()
        if not report.ok:
            return report, None
        result = _write(organization, report, actor, hashed, generated)
    return report, result


def _generated_password(organization, row: RowResult) -> str:
    return services.generate_temporary_password(
        User(organization=organization, login_id=row.data["login_id"], name=row.data["name"])
    )


def _write(organization, report, actor, hashed, generated) -> ApplyResult:
    adds = [r for r in report.rows if r.status == ADD]
    updates = [r for r in report.rows if r.status == UPDATE]
    new_passwords = []

    def encoded(row) -> str | None:
        key = normalize_login_id(row.login_id)
        if key in hashed:
            return hashed[key]
        if row.status == ADD:  # became an add after the first pass: generate now
            generated[key] = _generated_password(organization, row)
            return make_password(generated[key])
        return None

    users = {u.pk: u for u in User.objects.filter(pk__in=[r.user_id for r in updates])}
    before = {pk: {"extension": u.extension} for pk, u in users.items()}
    # Extensions that change are cleared first, so that two users may swap theirs.
    moving = [r.user_id for r in updates if r.data["extension"] != users[r.user_id].extension]
    User.objects.filter(pk__in=moving).update(extension="")
    for row in updates:
        services.user_update(
            actor=actor,
            user=users[row.user_id],
            data={k: row.data[k] for k in USER_FIELDS},
            grants=row.grants,
            password_hash=encoded(row),
            check_limits=False,
            audit_before=before[row.user_id] if row.user_id in moving else None,
        )
    services.users_bulk_create(
        actor=actor,
        organization=organization,
        users=[
            {
                **{k: row.data[k] for k in USER_FIELDS},
                "password_hash": encoded(row),
                "grants": row.grants,
            }
            for row in adds
        ],
    )
    for row in adds:
        key = normalize_login_id(row.login_id)
        if key in generated:
            new_passwords.append((row.data["login_id"], generated[key]))
    audit_record(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        organization=organization,
        detail=f"added={len(adds)} updated={len(updates)} generated_passwords={len(new_passwords)}",
    )
    return ApplyResult(added=len(adds), updated=len(updates), generated_passwords=new_passwords)
