"""Bulk add and update from CSV (docs/csv.md): read the file in the chosen
encoding, turn each row into a proposed change, and hand them all to the change service
(users.changes.apply_changes): with commit=False for the dry run, which validates every row
against every rule with nothing written, and with commit=True to apply all or nothing.

The rules themselves are the change service's, so a row gets the same verdict and the same
message as the Add new user form or a command would. What is the import's own: bytes and
encodings, columns and cells (1/0 flags, locale and time zone codes, blank cells keeping an
existing user's values), and the report, row by row, in the file's terms.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from accounts.batching import lookup_chunks
from accounts.fields import NEW_USER_DEFAULTS
from accounts.models import Organization, User
from accounts.problems import GENERAL
from accounts.validators import normalize_login_id
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from permissions import catalog
from permissions.services import Grants
from users.changes import ADD, ERROR, UNCHANGED, UPDATE, Change, ChangeResult, apply_changes

from . import csv_format

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024

# A file with more rows than this is checked by the task worker, the page following it: its dry
# run takes more than a moment (docs/performance.md).
BACKGROUND_CHECK_ROWS = 2_000

# The order a row's changed columns are listed in: the user's fields, then services by name.
REPORTED_FIELDS = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")


@dataclass
class RowResult:
    line: int
    login_id: str
    status: str = UNCHANGED
    changes: list[str] = field(default_factory=list)  # the labels of the changed columns
    # (column label, value before, value after) of each changed cell, in words.
    diff: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column label, message)
    # The values the row proposes (user fields), and whether a new user's temporary password
    # is to be generated (its Temporary password cell is blank). Not part of the stored report.
    data: dict = field(default_factory=dict)
    generates_password: bool = False

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

    def to_json(self) -> dict:
        return {
            "rows": [
                {
                    "line": r.line,
                    "login_id": r.login_id,
                    "status": r.status,
                    "changes": r.changes,
                    "diff": r.diff,
                    "errors": r.errors,
                }
                for r in self.rows
            ],
            "file_errors": self.file_errors,
            "unknown_columns": self.unknown_columns,
            "counts": self.counts,
        }


@dataclass
class ApplyResult:
    added: int
    updated: int
    generated_passwords: list[tuple[str, str]]  # (login ID, temporary password)


# --- Reading the file ---------------------------------------------------------------------------


@dataclass
class _File:
    """A file read into rows: each row's report entry and, unless a cell could not be read,
    its proposed change."""

    report: Report
    columns: dict[str, csv_format.Column] = field(default_factory=dict)
    language: str = "en"
    rows: list[tuple[RowResult, Change | None]] = field(default_factory=list)

    def label(self, key: str) -> str:
        column = self.columns.get(key)
        return column.label(self.language) if column else key

    @property
    def changes(self) -> list[Change]:
        return [change for _row, change in self.rows if change is not None]


def _read(organization: Organization, data: bytes, encoding: str, language: str) -> _File:
    file = _File(report=Report(), language=language)
    report = file.report
    if len(data) > MAX_BYTES:
        report.file_errors.append(
            _("The file is larger than %(mb)d MB. Split it into smaller files.")
            % {"mb": MAX_BYTES // (1024 * 1024)}
        )
        return file
    try:
        text = csv_format.decode_file(data, encoding)
        records = list(csv_format.read_rows(text))
    except csv_format.CsvFormatError as error:
        report.file_errors.append(str(error))
        return file
    if not records:
        report.file_errors.append(_("The file is empty."))
        return file
    contract = organization.contract
    mapping, report.unknown_columns = csv_format.match_header(
        records[0][1], csv_format.import_columns(contract)
    )
    file.columns = {col.key: col for col in mapping.values()}
    if "login_id" not in file.columns:
        report.file_errors.append(
            _("The first line must be the header row, with a “%(column)s” column.")
            % {"column": csv_format.columns_for(contract)[0].label(language)}
        )
        return file
    body = records[1:]
    if len(body) > MAX_ROWS:
        report.file_errors.append(
            _("The file has %(rows)d rows; at most %(max)d can be imported at once.")
            % {"rows": len(body), "max": MAX_ROWS}
        )
        return file
    ours = _existing_users(organization, body, mapping)
    restore = csv_format.restore
    columns = [(i, col.key) for i, col in mapping.items()]
    for line, cells in body:
        width = len(cells)
        values = {
            key: (restore(cell) if (cell := cells[i])[:1] == "'" else cell) if i < width else ""
            for i, key in columns
        }
        row = RowResult(line=line, login_id=values.get("login_id", "").strip())
        change = _row_change(file, row, values, ours.get(normalize_login_id(row.login_id)))
        report.rows.append(row)
        file.rows.append((row, change))
    return file


def _existing_users(organization, body, mapping) -> dict[str, int]:
    """This organization's users named by the file's login IDs, by normalised key. A login ID
    taken in another organization is the change service's to refuse (like any add's)."""
    login_index = next(i for i, col in mapping.items() if col.key == "login_id")
    keys = sorted(
        {
            normalize_login_id(csv_format.restore(cells[login_index]))
            for _line, cells in body
            if login_index < len(cells)
        }
        - {""}
    )
    ours: dict[str, int] = {}
    for chunk in lookup_chunks(keys):
        ours.update(
            User.objects.filter(organization=organization, login_id_key__any_of=chunk).values_list(
                "login_id_key", "pk"
            )
        )
    return ours


def _flag(cell: str) -> bool | None:
    return {"1": True, "0": False}.get(cell)


def _row_change(file: _File, row: RowResult, values: dict, user_id: int | None) -> Change | None:
    """The row's cells as a proposed change. A blank cell keeps an existing user's value (the
    user name excepted: it is required); for a new user it means the default. Cells that are
    not readable (a flag other than 1/0, an unknown locale code) are reported here and the row
    proposes nothing."""
    present = file.columns.keys()
    adding = user_id is None
    fields: dict = {}
    grant: Grants = {}
    revoke: list[str] = []

    def cell(key: str) -> str | None:
        """The stripped cell, or None when it keeps the current value (or is absent)."""
        if key not in present:
            return None
        text = values.get(key, "").strip()
        return None if text == "" and not adding else text

    def bad(key: str, message: str) -> None:
        row.error(file.label(key), message)

    if adding:
        fields["login_id"] = row.login_id
    if "name" in present:
        fields["name"] = values.get("name", "")
    if (extension := cell("extension")) is not None:
        fields["extension"] = extension
    if (locale := cell("locale")) is not None:
        if locale == "":
            fields["locale"] = NEW_USER_DEFAULTS["locale"]
        elif locale.lower() in csv_format.LOCALE_FROM_CODE:
            fields["locale"] = csv_format.LOCALE_FROM_CODE[locale.lower()]
        else:
            bad("locale", _("Locale must be 0 (Japanese) or 1 (English)."))
    if (zone := cell("time_zone")) is not None:
        fields["time_zone"] = (
            csv_format.TIME_ZONE_CODES.get(zone, zone) or NEW_USER_DEFAULTS["time_zone"]
        )
    # Blank for a new user: active, not an admin.
    if (active := cell("is_active")) is not None:
        flag = NEW_USER_DEFAULTS["is_active"] if active == "" else _flag(active)
        if flag is None:
            bad("is_active", _("Use 1 (yes) or 0 (no)."))
        else:
            fields["is_active"] = flag
    if (admin := cell(catalog.ADMIN)) is not None:
        flag = False if admin == "" else _flag(admin)
        if flag is None:
            bad(catalog.ADMIN, _("Use 1 (yes) or 0 (no)."))
        else:
            fields["role"] = User.Role.ADMIN if flag else User.Role.MEMBER
    for service in catalog.GRANTABLE:
        code = service.code
        if (service_cell := cell(code)) is None:
            continue
        if service.has_levels:
            level = csv_format.MEETING_ACCESS_FROM_CODE.get(service_cell or "0")
            if level is None:
                bad(code, _("Use 0 (none), 1 (host only) or 2 (all)."))
            elif level == service.levels[0].value:
                revoke.append(code)
            else:
                grant[code] = level
        else:
            on = False if service_cell == "" else _flag(service_cell)
            if on is None:
                bad(code, _("Use 1 (yes) or 0 (no)."))
            elif on:
                grant[code] = ""
            else:
                revoke.append(code)
    password = values.get("password", "") if "password" in present else ""
    if row.status == ERROR:
        return None
    row.data = fields
    row.generates_password = adding and not password
    return Change(
        user_id=user_id,
        fields=fields,
        grants={} if adding else None,
        grant=grant,
        revoke=revoke,
        password=password or None,
        generate_password=adding and not password,
        ref=row.line,
    )


# --- The change service's verdicts, in the file's terms -------------------------------------------


def row_count(data: bytes) -> int:
    """About how many rows a file has (its line ends), without decoding it."""
    return data.count(b"\n")


def _line(ref) -> str:
    return _("line %(line)d") % {"line": ref}


def _column_of(file: _File, problem) -> str:
    """The column a problem is reported under: its field's, and the Administrative privileges
    column for the rule about the organization's last active admin."""
    problem_field = problem.field
    if problem_field == "role" or problem.code == "last_admin":
        return file.label(catalog.ADMIN)
    if problem_field.startswith("service_"):
        return file.label(problem_field.removeprefix("service_"))
    if problem_field in (GENERAL, "version"):
        return file.label("login_id")
    if problem_field == "password" and "password" not in file.columns:
        return str(csv_format.PASSWORD_COLUMN.label(file.language))
    return file.label(problem_field)


def _grants_from(summary) -> Grants:
    grants: Grants = {}
    for item in summary or []:
        code, _sep, level = item.partition("=")
        grants[code] = level
    return grants


def _shown(key: str, value) -> str:
    """A cell's value before or after, in words for the report."""
    if key in ("is_active", "role"):
        on = value is True or value == User.Role.ADMIN
        return _("Yes") if on else _("No")
    if key == "locale":
        return str(User.Locale(value).label) if value in User.Locale.values else str(value)
    return "" if value is None else str(value)


def _service_shown(code: str, grants: Grants) -> str:
    service = catalog.get(code)
    if code not in grants:
        return service.levels[0].label if service.has_levels else _("No")
    if service.has_levels:
        level = service.level(grants[code])
        return level.label if level else grants[code]
    return _("Yes")


def _report(file: _File, result: ChangeResult) -> None:
    outcomes = iter(result.outcomes)
    for row, change in file.rows:
        if change is None:
            continue
        outcome = next(outcomes)
        for problem in outcome.problems:
            row.error(_column_of(file, problem), problem.text)
        if outcome.problems:
            continue
        row.status = outcome.status
        if outcome.status == ADD:
            row.changes = [file.label(k) for k in ("login_id", "name") if k in file.columns]
            continue
        for key in REPORTED_FIELDS:
            if key in outcome.changes:
                before, after = outcome.changes[key]
                column = file.label(catalog.ADMIN if key == "role" else key)
                row.changes.append(column)
                row.diff.append((column, _shown(key, before), _shown(key, after)))
        if "services" in outcome.changes:
            before, after = (_grants_from(s) for s in outcome.changes["services"])
            codes = sorted(
                {
                    code
                    for code in before.keys() | after.keys()
                    if before.get(code) != after.get(code)
                },
                key=lambda code: file.label(code),
            )
            for code in codes:
                column = file.label(code)
                row.changes.append(column)
                row.diff.append((column, _service_shown(code, before), _service_shown(code, after)))
        if change.password:
            column = str(csv_format.PASSWORD_COLUMN.label(file.language))
            row.changes.append(column)
            row.diff.append((column, "", "••••••••"))
        row.status = UPDATE if row.changes else UNCHANGED


# --- Dry run and apply ----------------------------------------------------------------------------


def validate_file(
    *,
    organization: Organization,
    data: bytes,
    encoding: str,
    acting_user: User | None,
    language: str,
    progress=None,
) -> Report:
    """The dry run: classify every row, nothing written. `progress(phase, done, total)`
    follows the rows checked."""
    file = _read(organization, data, encoding, language)
    if file.report.file_errors or not file.rows:
        return file.report
    result = apply_changes(
        organization=organization,
        actor=Actor(user=acting_user, label=""),
        changes=file.changes,
        commit=False,
        describe=_line,
        progress=progress,
    )
    _report(file, result)
    return file.report


def apply_file(
    *,
    organization: Organization,
    data: bytes,
    encoding: str,
    language: str,
    actor: Actor,
    progress=None,
) -> tuple[Report, ApplyResult | None]:
    """Apply a file, all or nothing, as `actor` (whose own user, if any, the rules about
    yourself apply to). `progress(phase, done, total)` follows the password hashing and the
    writing. Returns the report it was applied with, and the result (None when
    the file does not pass, as the database is now: nothing written)."""
    file = _read(organization, data, encoding, language)
    if file.report.file_errors or any(row.status == ERROR for row, _c in file.rows):
        return file.report, None
    result = apply_changes(
        organization=organization,
        actor=actor,
        changes=file.changes,
        describe=_line,
        progress=progress,
    )
    _report(file, result)
    if not result.committed:
        return file.report, None
    added = [o for o in result.outcomes if o.status == ADD]
    updated = sum(1 for row in file.report.rows if row.status == UPDATE)
    generated = [(o.user.login_id, o.temporary_password) for o in added if o.temporary_password]
    audit_record(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        organization=organization,
        detail=f"added={len(added)} updated={updated} generated_passwords={len(generated)}",
    )
    return file.report, ApplyResult(
        added=len(added), updated=updated, generated_passwords=generated
    )
