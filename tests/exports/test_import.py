"""CSV import (docs/csv.md; docs/security.md): the
engine (exports.importing.validate_file / apply_file), the views (upload -> dry-run report ->
apply -> done; cancel; generated passwords once; status JSON), the import_users command, and the
round trip export -> import = no change.

In tests tasks run at once (ImmediateBackend), so the apply runs when the POST to
/users/import/<id>/apply/ commits; the non-transactional tests run its on-commit callback with
django_capture_on_commit_callbacks."""

import codecs
import csv
import io
import os
import stat
import uuid

import pytest
from django.contrib.auth.hashers import check_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone, translation

from accounts.models import Contract, User
from audit.models import AuditEvent
from audit.services import Actor
from exports import csv_format, importing
from exports.models import ImportJob
from permissions import catalog
from permissions.models import ServiceGrant
from tests.exports.headers import EN_HEADER, JA_HEADER
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users.changes import generate_temporary_password

IMPORT_URL = reverse("exports:import")
EXPORT_URL = reverse("exports:export")
BOM = codecs.BOM_UTF8
STRONG = "Qz8#vLm2pR4t"
STRONG_2 = "Hw3!nKc7xT9e"

LABELS = {
    "login_id": "Login ID",
    "name": "User name",
    "ext": "Extension number",
    "locale": "Locale",
    "tz": "Time zone",
    "admin": "Administrative privileges",
    "monitoring": "Monitoring privileges",
    "phone": "MiiTel Phone",
    "mobile": "MiiTel Phone Mobile",
    "dashboard": "Dashboard",
    "meeting": "Edit meeting access permission",
    "active": "Active",
    "password": "Temporary password",
}
HEADER = [
    "Login ID",
    "User name",
    "Extension number",
    "Locale",
    "Time zone",
    "Administrative privileges",
    "Monitoring privileges",
    "MiiTel Phone",
    "MiiTel Phone Mobile",
    "Edit meeting access permission",
    "Active",
    "Temporary password",
]
JA_LABELS = dict(zip(EN_HEADER, JA_HEADER, strict=True)) | {"Temporary password": "仮パスワード"}


# --- helpers ------------------------------------------------------------------------------------


def row(login_id: str, name: str = "New User", **cells: str) -> dict[str, str]:
    """A new user's row: every column of HEADER, with `cells` (keys of LABELS) overriding."""
    values = {
        "Login ID": login_id,
        "User name": name,
        "Extension number": "",
        "Locale": "0",
        "Time zone": "Asia/Tokyo",
        "Administrative privileges": "0",
        "Monitoring privileges": "0",
        "MiiTel Phone": "0",
        "MiiTel Phone Mobile": "0",
        "Edit meeting access permission": "0",
        "Active": "1",
        "Temporary password": "",
    }
    values.update({LABELS[k]: v for k, v in cells.items()})
    return values


def same(user: User, **cells: str) -> dict[str, str]:
    """An existing user's row exactly as it is (no phone etc. unless given)."""
    values = {
        "name": user.name,
        "ext": user.extension,
        "locale": "1" if user.locale == "en" else "0",
        "tz": user.time_zone,
        "admin": "1" if user.role == "admin" else "0",
        "active": "1" if user.is_active else "0",
    }
    return row(user.login_id, **(values | cells))


def make_csv(
    rows: list[dict[str, str]],
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
    newline: str = "\r\n",
    trailing: str = "",
) -> bytes:
    """A file as a person or a spreadsheet writes it (no formula neutralising)."""
    header = header or (list(rows[0]) if rows else HEADER)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    for values in rows:
        writer.writerow([values.get(h, "") for h in header])
    text = buffer.getvalue() + trailing
    data = text.encode("cp932" if encoding == "shift_jis" else "utf-8")
    return BOM + data if bom else data


def check(organization, data: bytes, *, encoding="utf-8", acting_user=None):
    with translation.override("en"):
        report = importing.validate_file(
            organization=organization,
            data=data,
            encoding=encoding,
            acting_user=acting_user,
            language="en",
        )
    report.source = {"data": data, "encoding": encoding}  # what apply() below applies
    return report


def apply(organization, report, actor_user=None):
    """Apply the file `report` was made from (apply_file checks it again under the lock)."""
    with translation.override("en"):
        applied, result = importing.apply_file(
            organization=organization,
            data=report.source["data"],
            encoding=report.source["encoding"],
            language="en",
            actor=Actor(user=actor_user, label="test"),
        )
    assert result is not None, errors(applied)
    return result


def errors(report) -> list[tuple[int, str, str]]:
    return [(r.line, column, message) for r in report.rows for column, message in r.errors]


def statuses(report) -> dict[str, str]:
    return {r.login_id: r.status for r in report.rows}


def dump(organization=None) -> tuple[list[dict], list[dict]]:
    """Every column of every user (tombstones too) and grant."""
    users = User.all_objects.order_by("pk")
    grants = ServiceGrant.objects.order_by("pk")
    if organization is not None:
        users = users.filter(organization=organization)
        grants = grants.filter(organization=organization)
    return list(users.values()), list(grants.values())


def grants_of(user: User) -> dict[str, str]:
    return dict(ServiceGrant.objects.filter(user=user).values_list("service", "level"))


def set_contract(organization, **fields) -> None:
    Contract.objects.filter(organization=organization).update(**fields)
    organization.refresh_from_db()
    organization._state.fields_cache.pop("contract", None)


def detail_url(job) -> str:
    return reverse("exports:import_detail", args=[job.pk])


def apply_url(job) -> str:
    return reverse("exports:import_apply", args=[job.pk])


def cancel_url(job) -> str:
    return reverse("exports:import_cancel", args=[job.pk])


def passwords_url(job) -> str:
    return reverse("exports:import_passwords", args=[job.pk])


def status_url(job) -> str:
    return reverse("exports:import_status", args=[job.pk])


def upload(client, data: bytes, encoding: str = "utf-8", filename: str = "users.csv") -> ImportJob:
    response = client.post(
        IMPORT_URL,
        {"file": SimpleUploadedFile(filename, data, content_type="text/csv"), "encoding": encoding},
    )
    assert response.status_code == 302, response.content[:3000]
    match = resolve(response["Location"])
    assert match.url_name == "import_detail"
    return ImportJob.objects.get(pk=match.kwargs["job_id"])


@pytest.fixture
def apply_job(django_capture_on_commit_callbacks):
    """POST apply and run what it enqueued on commit (the task); return the refreshed job."""

    def run(client, job: ImportJob) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(apply_url(job))
        assert response.status_code == 302
        assert response["Location"] == detail_url(job)
        job.refresh_from_db()
        return job

    return run


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Messages and headers below are English."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


def csv_rows(data: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    text = data.decode({"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "shift_jis": "cp932"}[encoding])
    return list(csv.reader(io.StringIO(text, newline="")))


# --- classification -----------------------------------------------------------------------------


def test_dry_run_classifies_every_row_and_writes_nothing(org_a, admin_a, member_a):
    changed = UserFactory(organization=org_a, login_id="upd@a.example.com", name="Old Name")
    before = dump()
    audit_before = AuditEvent.objects.count()
    report = check(
        org_a,
        make_csv(
            [
                same(member_a),
                same(changed, name="New Name", phone="1"),
                row("new@a.example.com", "Brand New"),
                row("bad@a.example.com", locale="9"),
            ]
        ),
        acting_user=admin_a,
    )
    assert statuses(report) == {
        "member@a.example.com": "unchanged",
        "upd@a.example.com": "update",
        "new@a.example.com": "add",
        "bad@a.example.com": "error",
    }
    assert report.counts == {"add": 1, "update": 1, "unchanged": 1, "error": 1}
    assert not report.ok
    update = next(r for r in report.rows if r.status == "update")
    assert update.changes == ["User name", "MiiTel Phone"]
    assert dump() == before
    assert AuditEvent.objects.count() == audit_before


def test_blank_cells_keep_an_existing_users_values(org_a, admin_a):
    user = UserFactory(
        organization=org_a,
        login_id="keep@a.example.com",
        name="Keep Me",
        extension="456",
        locale="en",
        role=User.Role.ADMIN,
        is_active=False,
    )
    GrantFactory(user=user, service=catalog.PHONE)
    GrantFactory(user=user, service=catalog.MEETING_ACCESS, level="all")
    blank = dict.fromkeys(HEADER, "") | {
        "Login ID": "KEEP@a.example.com",
        "User name": "Keep Me",
        "Extension number": "456",
    }
    report = check(org_a, make_csv([blank]), acting_user=admin_a)
    assert statuses(report) == {"KEEP@a.example.com": "unchanged"}


def test_a_blank_extension_cell_keeps_the_extension(org_a, admin_a):
    """The upload page: “A blank cell keeps an existing user's current value.”"""
    user = UserFactory(organization=org_a, login_id="keep@a.example.com", extension="456")
    report = check(org_a, make_csv([same(user, ext="")]), acting_user=admin_a)
    assert statuses(report) == {"keep@a.example.com": "unchanged"}
    apply(org_a, report, admin_a)
    user.refresh_from_db()
    assert user.extension == "456"


# --- each error class, with its line, column and rule -------------------------------------------

ROW_ERRORS = [
    ("invalid-login-id", {"login_id": "not-an-email"}, "Login ID", "email format"),
    ("login-id-characters", {"login_id": "yamada taro@a.example.com"}, "Login ID", "not allowed"),
    ("login-id-domain", {"login_id": "x@localhost"}, "Login ID", "domain"),
    ("name-too-long", {"name": "あ" * 31}, "User name", "at most 30 characters"),
    ("name-missing", {"name": "   "}, "User name", "required"),
    ("name-control", {"name": "Tab\there"}, "User name", "control characters"),
    ("extension-short", {"ext": "12"}, "Extension number", "3 to 6 digits"),
    ("extension-letters", {"ext": "12a4"}, "Extension number", "3 to 6 digits"),
    ("locale", {"locale": "2"}, "Locale", "0 (Japanese) or 1 (English)"),
    ("time-zone-code", {"tz": "7"}, "Time zone", "is not offered"),
    ("time-zone-name", {"tz": "Europe/London"}, "Time zone", "is not offered"),
    ("admin-flag", {"admin": "yes"}, "Administrative privileges", "Use 1 (yes) or 0 (no)"),
    ("active-flag", {"active": "2"}, "Active", "Use 1 (yes) or 0 (no)"),
    ("phone-flag", {"phone": "true"}, "MiiTel Phone", "Use 1 (yes) or 0 (no)"),
    (
        "meeting-access",
        {"meeting": "3"},
        "Edit meeting access permission",
        "0 (none), 1 (host only) or 2 (all)",
    ),
    (
        "monitoring-without-phone",
        {"monitoring": "1", "phone": "0"},
        "Monitoring privileges",
        "requires MiiTel Phone",
    ),
    ("password-short", {"password": "Ab1!"}, "Temporary password", "at least 8 characters"),
    ("password-letters", {"password": "abcdefghij"}, "Temporary password", "letters only"),
]


@pytest.mark.parametrize(
    ("cells", "column", "rule"),
    [case[1:] for case in ROW_ERRORS],
    ids=[case[0] for case in ROW_ERRORS],
)
def test_each_row_error_names_line_column_and_rule(org_a, admin_a, cells, column, rule):
    login_id = cells.pop("login_id", "broken@a.example.com")
    before = dump()
    report = check(
        org_a,
        make_csv([row("fine@a.example.com", "Fine"), row(login_id, **cells)]),
        acting_user=admin_a,
    )
    assert statuses(report)["fine@a.example.com"] == "add"
    found = errors(report)
    assert found, "the bad row must be reported"
    assert {line for line, _, _ in found} == {3}
    assert any(c == column and rule in m for _, c, m in found), found
    assert not report.ok
    assert dump() == before


@pytest.mark.parametrize(
    ("cells", "header", "column"),
    [
        ({"mobile": "1"}, None, "MiiTel Phone Mobile"),
        ({"meeting": "2"}, None, "Edit meeting access permission"),
        ({"dashboard": "1"}, [*HEADER, "Dashboard"], "Dashboard"),
    ],
)
def test_a_service_not_in_the_contract(org_a, admin_a, cells, header, column):
    set_contract(
        org_a,
        services=sorted(
            catalog.GRANTABLE_CODES
            - {catalog.PHONE_MOBILE, catalog.MEETING_ACCESS, catalog.DASHBOARD}
        ),
    )
    report = check(
        org_a, make_csv([row("svc@a.example.com", **cells)], header=header), acting_user=admin_a
    )
    assert errors(report) == [
        (
            2,
            column,
            f"{column} is not in your organization's contract. To add it, please contact us.",
        )
    ]


def test_a_grant_kept_from_before_a_contract_change_stays_on_update(org_a, admin_a):
    user = UserFactory(organization=org_a, login_id="kept@a.example.com", name="Kept")
    GrantFactory(user=user, service=catalog.PHONE_MOBILE)
    set_contract(org_a, services=sorted(catalog.GRANTABLE_CODES - {catalog.PHONE_MOBILE}))
    report = check(org_a, make_csv([same(user, mobile="1")]), acting_user=admin_a)
    assert statuses(report) == {"kept@a.example.com": "unchanged"}


def test_a_duplicate_login_id_within_the_file(org_a, admin_a):
    report = check(
        org_a,
        make_csv(
            [row("dup@a.example.com", "One"), row("other@a.example.com"), row("DUP@A.example.com")]
        ),
        acting_user=admin_a,
    )
    assert errors(report) == [(4, "Login ID", "This login ID also appears on line 2.")]
    assert statuses(report)["dup@a.example.com"] == "add"


@pytest.mark.parametrize("login_id", ["admin@b.example.com", "ADMIN@B.EXAMPLE.COM"])
def test_a_login_id_used_in_another_organization(org_a, admin_a, admin_b, login_id):
    before = dump()
    report = check(org_a, make_csv([row(login_id, "Intruder")]), acting_user=admin_a)
    assert errors(report) == [(2, "Login ID", "This login ID is already in use.")]
    assert dump() == before
    admin_b.refresh_from_db()
    assert admin_b.organization_id != org_a.pk


def test_duplicate_extensions_within_the_file_and_against_the_database(org_a, admin_a):
    UserFactory(organization=org_a, login_id="has300@a.example.com", extension="300")
    report = check(
        org_a,
        make_csv(
            [
                row("e1@a.example.com", ext="201"),
                row("e2@a.example.com", ext="201"),
                row("e3@a.example.com", ext="300"),
                row("e4@a.example.com", ext="202"),
            ]
        ),
        acting_user=admin_a,
    )
    message = "This extension number is already used in your organization."
    assert errors(report) == [
        (2, "Extension number", message),
        (3, "Extension number", message),
        (4, "Extension number", message),
    ]
    assert statuses(report)["e4@a.example.com"] == "add"


def test_swapping_extensions_between_users_in_one_file_applies(org_a, admin_a):
    a = UserFactory(organization=org_a, login_id="a@a.example.com", extension="300")
    b = UserFactory(organization=org_a, login_id="b@a.example.com", extension="301")
    report = check(org_a, make_csv([same(a, ext="301"), same(b, ext="300")]), acting_user=admin_a)
    assert errors(report) == []
    assert report.counts["update"] == 2
    # What the dry run accepted, the apply must write.
    apply(org_a, report, admin_a)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.extension, b.extension) == ("301", "300")


def test_the_user_limit_is_counted_over_the_whole_file(org_a, admin_a, member_a):
    set_contract(org_a, user_limit=4)  # 2 used: admin_a and member_a
    report = check(
        org_a,
        make_csv(
            [
                row("n1@a.example.com"),
                same(member_a, name="Renamed"),  # an update takes no seat
                row("n2@a.example.com"),
                row("n3@a.example.com"),
            ]
        ),
        acting_user=admin_a,
    )
    assert statuses(report) == {
        "n1@a.example.com": "add",
        "member@a.example.com": "update",
        "n2@a.example.com": "add",
        "n3@a.example.com": "error",
    }
    ((line, column, message),) = errors(report)
    assert (line, column) == (5, "Login ID")
    assert "allows 4 users" in message
    assert "user 5" in message


def test_phone_seats_are_counted_over_the_whole_file(org_a, admin_a):
    set_contract(org_a, service_limits={catalog.PHONE: 2})
    holder = UserFactory(organization=org_a, login_id="holder@a.example.com")
    GrantFactory(user=holder, service=catalog.PHONE)
    report = check(
        org_a,
        make_csv(
            [
                row("p1@a.example.com", phone="1"),
                row("p2@a.example.com", phone="1"),
                row("p3@a.example.com", phone="0"),
            ]
        ),
        acting_user=admin_a,
    )
    assert errors(report) == [
        (
            3,
            "MiiTel Phone",
            "All 2 MiiTel Phone seats in your contract would be in use. "
            "To change your contract, please contact us.",
        )
    ]


def test_a_seat_released_in_the_same_file_can_be_taken(org_a, admin_a):
    set_contract(org_a, service_limits={catalog.PHONE: 2})
    holder = UserFactory(organization=org_a, login_id="holder@a.example.com", name="Holder")
    GrantFactory(user=holder, service=catalog.PHONE)
    report = check(
        org_a,
        make_csv(
            [
                row("p1@a.example.com", phone="1"),
                row("p2@a.example.com", phone="1"),
                same(holder, phone="0"),
            ]
        ),
        acting_user=admin_a,
    )
    assert errors(report) == []
    apply(org_a, report, admin_a)
    assert ServiceGrant.objects.filter(organization=org_a, service=catalog.PHONE).count() == 2


def test_a_phone_seat_moved_between_users_in_one_file_applies(org_a, admin_a):
    set_contract(org_a, service_limits={catalog.PHONE: 1})
    holder = UserFactory(organization=org_a, login_id="holder@a.example.com", name="Holder")
    GrantFactory(user=holder, service=catalog.PHONE)
    taker = UserFactory(organization=org_a, login_id="taker@a.example.com", name="Taker")
    report = check(
        org_a, make_csv([same(taker, phone="1"), same(holder, phone="0")]), acting_user=admin_a
    )
    assert errors(report) == []
    apply(org_a, report, admin_a)
    assert grants_of(taker) == {catalog.PHONE: ""}
    assert grants_of(holder) == {}


def test_phone_seats_do_not_depend_on_the_order_of_rows(org_a, admin_a):
    """Two users hold both seats and keep them; a new user asking for one, listed before them,
    must be refused in the dry run (the apply's own seat check would refuse it anyway)."""
    set_contract(org_a, service_limits={catalog.PHONE: 2})
    holders = [
        UserFactory(organization=org_a, login_id=f"h{i}@a.example.com", name=f"H{i}")
        for i in (1, 2)
    ]
    for holder in holders:
        GrantFactory(user=holder, service=catalog.PHONE)
    report = check(
        org_a,
        make_csv([row("new@a.example.com", phone="1"), *(same(h, phone="1") for h in holders)]),
        acting_user=admin_a,
    )
    assert [(line, column) for line, column, _ in errors(report)] == [(2, "MiiTel Phone")]


def test_you_cannot_deactivate_yourself_or_drop_your_admin_role(org_a, admin_a):
    other_admin = AdminFactory(organization=org_a, login_id="admin2@a.example.com", name="A2")
    report = check(org_a, make_csv([same(admin_a, active="0")]), acting_user=admin_a)
    assert errors(report) == [(2, "Active", "You cannot deactivate yourself.")]
    report = check(org_a, make_csv([same(admin_a, admin="0")]), acting_user=admin_a)
    assert errors(report) == [
        (2, "Administrative privileges", "You cannot remove your own admin role.")
    ]
    # Another admin may be demoted: admin_a stays.
    report = check(org_a, make_csv([same(other_admin, admin="0")]), acting_user=admin_a)
    assert errors(report) == []


@pytest.mark.parametrize("cells", [{"admin": "0"}, {"active": "0"}])
def test_a_file_may_not_leave_the_organization_without_an_active_admin(org_a, admin_a, cells):
    report = check(org_a, make_csv([same(admin_a, **cells)]), acting_user=None)
    ((line, column, message),) = errors(report)
    assert (line, column) == (2, "Administrative privileges")
    assert "without an active admin" in message


def test_handing_the_admin_role_over_in_the_same_file_applies(org_a, admin_a, member_a):
    """The dry run accepts it (the file's final state has an admin); the apply must too, in
    whatever order the rows come."""
    report = check(
        org_a, make_csv([same(admin_a, admin="0"), same(member_a, admin="1")]), acting_user=None
    )
    assert errors(report) == []
    apply(org_a, report)
    admin_a.refresh_from_db()
    member_a.refresh_from_db()
    assert (admin_a.role, member_a.role) == ("member", "admin")


def test_unknown_columns_are_reported_and_ignored(org_a, admin_a):
    header = ["Login ID", "Department", "User name", "Note"]
    data = make_csv(
        [{"Login ID": "u@a.example.com", "Department": "Sales", "User name": "U", "Note": "a\nb"}],
        header=header,
    )
    report = check(org_a, data, acting_user=admin_a)
    assert report.unknown_columns == ["Department", "Note"]
    assert report.ok
    assert statuses(report) == {"u@a.example.com": "add"}
    apply(org_a, report, admin_a)
    assert User.objects.get(login_id="u@a.example.com").name == "U"


def test_a_file_without_a_login_id_column_is_refused(org_a, admin_a):
    report = check(org_a, make_csv([{"User name": "X"}], header=["User name"]), acting_user=admin_a)
    assert report.rows == []
    assert report.file_errors == [
        "The first line must be the header row, with a “Login ID” column."
    ]


def test_an_empty_file_is_refused(org_a, admin_a):
    assert check(org_a, b"", acting_user=admin_a).file_errors == ["The file is empty."]
    assert check(org_a, b"\r\n\r\n", acting_user=admin_a).file_errors == ["The file is empty."]


# --- MiiTel's templates -------------------------------------------------------------------------

TEMPLATE_EN = [
    "Login ID",
    "User name",
    "Temporary Password",
    "Locale",
    "Time zone",
    "Administrative privileges",
    "Monitoring privileges",
]
TEMPLATE_JA = [
    "ログインID",
    "ユーザー名",
    "仮パスワード",
    "言語",
    "タイムゾーン",
    "管理者権限",
    "モニタリング権限",
]


@pytest.mark.parametrize("header", [TEMPLATE_EN, TEMPLATE_JA], ids=["en", "ja"])
def test_miitel_bulk_create_template(admin_client_a, org_a, admin_a, apply_job, header):
    cells = [
        ["bulk1@a.example.com", "一括 一郎", STRONG, "1", "0", "1", "0"],
        ["bulk2@a.example.com", "一括 二郎", "", "0", "0", "0", "0"],
    ]
    data = make_csv([dict(zip(header, c, strict=True)) for c in cells], header=header)
    job = upload(admin_client_a, data)
    assert job.status == ImportJob.Status.VALIDATED, job.report
    assert job.report["counts"] == {"add": 2, "update": 0, "unchanged": 0, "error": 0}
    assert job.report["unknown_columns"] == []
    job = apply_job(admin_client_a, job)
    assert job.status == ImportJob.Status.DONE
    assert job.result == {"added": 2, "updated": 0, "generated": 1}
    one = User.objects.get(login_id="bulk1@a.example.com")
    two = User.objects.get(login_id="bulk2@a.example.com")
    assert (one.name, one.locale, one.time_zone, one.role) == (
        "一括 一郎",
        "en",
        "Asia/Tokyo",
        "admin",
    )
    assert (two.name, two.locale, two.time_zone, two.role) == (
        "一括 二郎",
        "ja",
        "Asia/Tokyo",
        "member",
    )
    assert one.check_password(STRONG)
    assert one.must_change_password and two.must_change_password
    assert grants_of(one) == grants_of(two) == {}


def test_miitel_bulk_create_template_monitoring_needs_phone(org_a, admin_a):
    data = make_csv(
        [dict(zip(TEMPLATE_EN, ["m@a.example.com", "M", STRONG, "0", "0", "0", "1"], strict=True))],
        header=TEMPLATE_EN,
    )
    report = check(org_a, data, acting_user=admin_a)
    ((line, column, message),) = errors(report)
    assert (line, column) == (2, "Monitoring privileges")
    assert "requires MiiTel Phone" in message


def test_miitel_bulk_update_template(org_a, admin_a, member_a):
    header = [*TEMPLATE_EN[:2], "Extension number", *TEMPLATE_EN[3:]]
    data = make_csv(
        [
            dict(
                zip(
                    header,
                    ["member@a.example.com", "Member A", "777", "1", "0", "0", "0"],
                    strict=True,
                )
            )
        ],
        header=header,
    )
    report = check(org_a, data, acting_user=admin_a)
    assert statuses(report) == {"member@a.example.com": "update"}
    assert report.rows[0].changes == ["Extension number", "Locale"]
    apply(org_a, report, admin_a)
    member_a.refresh_from_db()
    assert (member_a.extension, member_a.locale, member_a.must_change_password) == (
        "777",
        "en",
        False,
    )


# --- temporary passwords ------------------------------------------------------------------------


def test_given_temporary_passwords_set_must_change_password(org_a, admin_a, member_a):
    report = check(
        org_a,
        make_csv(
            [
                row("given@a.example.com", "Given", password=STRONG),
                same(member_a, password=STRONG_2),
            ]
        ),
        acting_user=admin_a,
    )
    assert statuses(report) == {"given@a.example.com": "add", "member@a.example.com": "update"}
    assert report.rows[1].changes == ["Temporary password"]
    result = apply(org_a, report, admin_a)
    assert result.generated_passwords == []
    given = User.objects.get(login_id="given@a.example.com")
    member_a.refresh_from_db()
    assert given.check_password(STRONG) and given.must_change_password
    assert member_a.check_password(STRONG_2) and member_a.must_change_password
    for event in AuditEvent.objects.all():
        text = f"{event.changes} {event.detail} {event.target_label}"
        assert STRONG not in text and STRONG_2 not in text


def test_generated_passwords_download_once_for_the_importing_admin_only(
    admin_client_a, org_a, admin_a, admin_client_b, apply_job
):
    data = make_csv([row("g1@a.example.com", "Gen One"), row("g2@a.example.com", "Gen Two")])
    job = upload(admin_client_a, data)
    job = apply_job(admin_client_a, job)
    assert job.status == ImportJob.Status.DONE
    assert job.result["generated"] == 2

    # Another admin of the same organization, and an admin of another one: 404.
    other = AdminFactory(organization=org_a, login_id="admin2@a.example.com", name="Admin Two")
    other_client = Client()
    other_client.force_login(other)
    for client in (other_client, admin_client_b):
        assert client.get(detail_url(job)).status_code == 404
        assert client.post(passwords_url(job)).status_code == 404
        assert client.get(status_url(job)).status_code == 404

    page = admin_client_a.get(detail_url(job))
    assert page.status_code == 200
    assert passwords_url(job) in page.content.decode()

    response = admin_client_a.post(passwords_url(job))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="temporary-passwords.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(BOM)
    records = csv_rows(response.content)
    assert records[0] == ["Login ID", "Temporary password"]
    passwords = {login: csv_format.restore(pw) for login, pw in records[1:]}
    assert set(passwords) == {"g1@a.example.com", "g2@a.example.com"}
    for login_id, password in passwords.items():
        user = User.objects.get(login_id=login_id)
        assert check_password(password, user.password)
        assert user.must_change_password

    # Gone: a second download is refused, the page no longer offers it.
    job.refresh_from_db()
    assert job.generated_passwords is None
    again = admin_client_a.post(passwords_url(job))
    assert again.status_code == 302
    assert again["Location"] == detail_url(job)
    assert passwords_url(job) not in admin_client_a.get(detail_url(job)).content.decode()

    # Never in an audit row, the job's report or result.
    for password in passwords.values():
        for event in AuditEvent.objects.all():
            assert password not in f"{event.changes} {event.detail} {event.target_label}"
        assert password not in f"{job.report} {job.result}"


def test_expired_generated_passwords_cannot_be_downloaded(admin_client_a, org_a, apply_job):
    job = apply_job(admin_client_a, upload(admin_client_a, make_csv([row("g@a.example.com")])))
    ImportJob.objects.filter(pk=job.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    response = admin_client_a.post(passwords_url(job))
    assert response.status_code == 302
    assert response["Location"] == detail_url(job)


def test_generated_passwords_never_start_like_a_formula():
    """The passwords file neutralises formula cells, so a generated password starting with
    = + - would be shown as '=..., which is not the password. Generate none that do."""
    starts = [generate_temporary_password()[0] for _ in range(2000)]
    risky = [s for s in starts if s in csv_format.RISKY_STARTS]
    assert risky == []


# --- what real files contain -------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_robust_to_bom_line_ends_quoting_blank_lines_and_header_language(
    org_a, admin_a, bom, newline, language
):
    header = [*HEADER, "Note"]
    if language == "ja":
        header = [JA_LABELS.get(h, h) for h in header]
    rows = [
        row("q1@a.example.com", 'Doe, "Jim"') | {"Note": "first\nsecond"},
        row("q2@a.example.com", "山田, 太郎") | {"Note": ""},
        row("q3@a.example.com", "Third", locale="x") | {"Note": "three"},
    ]
    if language == "ja":
        rows = [{JA_LABELS.get(k, k): v for k, v in r.items()} for r in rows]
    data = make_csv(rows, header=header, bom=bom, newline=newline, trailing=newline * 3)
    report = check(org_a, data, acting_user=admin_a)
    assert report.unknown_columns == ["Note"]
    assert statuses(report) == {
        "q1@a.example.com": "add",
        "q2@a.example.com": "add",
        "q3@a.example.com": "error",
    }
    # The quoted newline moves the third record to line 5.
    assert [(line, column) for line, column, _ in errors(report)] == [(5, "Locale")]
    assert [r.data.get("name") for r in report.rows[:2]] == ['Doe, "Jim"', "山田, 太郎"]


def test_shift_jis_file_with_cp932_characters(org_a, admin_a):
    data = make_csv([row("sj@a.example.com", "髙橋 ①Ⅰ№～")], encoding="shift_jis")
    report = check(org_a, data, encoding="shift_jis", acting_user=admin_a)
    assert report.ok
    apply(org_a, report, admin_a)
    assert User.objects.get(login_id="sj@a.example.com").name == "髙橋 ①Ⅰ№～"


def test_shift_jis_bytes_uploaded_as_utf8_are_refused_naming_the_line(admin_client_a, org_a):
    data = make_csv(
        [row("ok@a.example.com", "Taro"), row("sj@a.example.com", "山田太郎")], encoding="shift_jis"
    )
    before = dump()
    job = upload(admin_client_a, data, encoding="utf-8")
    assert job.status == ImportJob.Status.FAILED
    assert job.content is None
    (message,) = job.report["file_errors"]
    assert "line 3" in message
    assert message in admin_client_a.get(detail_url(job)).content.decode()
    assert dump() == before


@pytest.mark.parametrize("name", ["山田太郎", "田中", "中田 一郎"])
def test_utf8_bytes_uploaded_as_shift_jis_are_refused_never_mojibake(
    admin_client_a, org_a, apply_job, name
):
    data = make_csv([row("ok@a.example.com", "Taro"), row("u8@a.example.com", name)])
    job = upload(admin_client_a, data, encoding="shift_jis")
    if job.status == ImportJob.Status.VALIDATED:
        apply_job(admin_client_a, job)
        written = User.objects.filter(login_id="u8@a.example.com").values_list("name", flat=True)
        pytest.fail(f"UTF-8 file read as Shift_JIS was accepted; names written: {list(written)}")
    assert job.status == ImportJob.Status.FAILED
    assert "line 3" in job.report["file_errors"][0]
    assert not User.objects.filter(login_id="u8@a.example.com").exists()


# --- limits -------------------------------------------------------------------------------------


def test_more_than_20000_rows_is_refused_with_a_clear_message(admin_client_a, org_a):
    lines = ["Login ID,User name"] + [f"u{i}@a.example.com,U{i}" for i in range(20_001)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    assert len(data) < importing.MAX_BYTES
    job = upload(admin_client_a, data)
    assert job.status == ImportJob.Status.FAILED
    message = "The file has 20001 rows; at most 20000 can be imported at once."
    assert job.report["file_errors"] == [message]
    assert job.report["rows"] == []
    assert message in admin_client_a.get(detail_url(job)).content.decode()
    assert not User.objects.filter(login_id="u0@a.example.com").exists()


def test_the_row_limit_boundary(org_a, admin_a, monkeypatch):
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    rows = [row(f"b{i}@a.example.com", f"B{i}") for i in range(4)]
    assert check(org_a, make_csv(rows[:3]), acting_user=admin_a).ok
    report = check(org_a, make_csv(rows, trailing="\r\n\r\n"), acting_user=admin_a)
    assert report.file_errors == ["The file has 4 rows; at most 3 can be imported at once."]


def _refuse_parsing(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("an oversized upload must not be parsed")

    monkeypatch.setattr(importing, "validate_file", boom)
    monkeypatch.setattr(csv_format, "decode_file", boom)
    monkeypatch.setattr(csv_format, "read_rows", boom)


@pytest.mark.parametrize(
    ("size", "message"),
    [
        # Just over: the view says so in the admin's language (English here).
        (importing.MAX_BYTES + 1, "The file is larger than 10 MB. Split it into smaller files."),
        # Far over: refused before the session's user is known, in the browser's language
        # (here the default, Japanese).
        (importing.MAX_BYTES + 1024 * 1024, "ファイルサイズが 10 MB を超えています"),
    ],
    ids=["just-over", "one-mb-over"],
)
def test_an_upload_over_10_mb_is_refused_without_parsing(
    admin_client_a, org_a, monkeypatch, size, message
):
    _refuse_parsing(monkeypatch)
    data = b"Login ID,User name\r\n" + b"x" * (size - 20)
    assert len(data) == size
    response = admin_client_a.post(
        IMPORT_URL, {"file": SimpleUploadedFile("big.csv", data, "text/csv"), "encoding": "utf-8"}
    )
    assert response.status_code == 413
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_engine_refuses_over_10_mb_before_decoding(org_a, admin_a, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("must not decode")

    monkeypatch.setattr(csv_format, "decode_file", boom)
    report = check(org_a, b"x" * (importing.MAX_BYTES + 1), acting_user=admin_a)
    assert report.file_errors == ["The file is larger than 10 MB. Split it into smaller files."]


# --- views: upload, report, apply, cancel, status ---------------------------------------------


def test_the_upload_page(admin_client_a):
    response = admin_client_a.get(IMPORT_URL)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert 'type="file"' in html
    assert 'value="utf-8"' in html and 'value="shift_jis"' in html


def test_an_expired_upload_is_removed(admin_client_a, org_a):
    job = upload(admin_client_a, make_csv([row("x@a.example.com")]))
    ImportJob.objects.filter(pk=job.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert admin_client_a.get(IMPORT_URL).status_code == 200
    assert not ImportJob.objects.filter(pk=job.pk).exists()


def test_an_upload_without_a_file_is_a_form_error(admin_client_a):
    response = admin_client_a.post(IMPORT_URL, {"encoding": "utf-8"})
    assert response.status_code == 400
    assert not ImportJob.objects.exists()


def test_upload_report_apply_done(admin_client_a, org_a, admin_a, member_a, apply_job):
    before = dump()
    job = upload(
        admin_client_a,
        make_csv(
            [
                same(member_a, phone="1", ext="555"),
                row("new@a.example.com", "New One", password=STRONG),
            ]
        ),
        filename="team.csv",
    )
    # The dry run wrote nothing but the job, which keeps the file for this admin.
    assert dump() == before
    assert (job.status, job.admin, job.organization, job.filename) == (
        "validated",
        admin_a,
        org_a,
        "team.csv",
    )
    assert job.content
    page = admin_client_a.get(detail_url(job))
    assert page.status_code == 200
    html = page.content.decode()
    assert apply_url(job) in html and cancel_url(job) in html
    assert "new@a.example.com" in html and "member@a.example.com" in html
    status = admin_client_a.get(status_url(job)).json()
    assert status == {
        "status": "validated",
        "status_label": "Checked, waiting for confirmation",
        "phase": "",
        "percent": 0,
        "finished": False,
    }

    job = apply_job(admin_client_a, job)
    assert job.status == ImportJob.Status.DONE
    assert job.result == {"added": 1, "updated": 1, "generated": 0}
    assert job.content is None  # the upload is gone once applied
    member_a.refresh_from_db()
    assert member_a.extension == "555"
    assert grants_of(member_a) == {catalog.PHONE: ""}
    new = User.objects.get(login_id="new@a.example.com")
    assert new.organization == org_a and new.check_password(STRONG)
    status = admin_client_a.get(status_url(job)).json()
    assert (status["status"], status["percent"], status["finished"]) == ("done", 100, True)
    assert (
        "Imported: 1 users added, 1 updated."
        in admin_client_a.get(detail_url(job)).content.decode()
    )

    # A second apply does nothing.
    after = dump()
    again = apply_job(admin_client_a, job)
    assert again.status == ImportJob.Status.DONE
    assert dump() == after


def test_a_report_with_errors_cannot_be_applied(admin_client_a, org_a, apply_job):
    before = dump()
    job = upload(
        admin_client_a, make_csv([row("ok@a.example.com"), row("bad@a.example.com", ext="1")])
    )
    assert job.status == ImportJob.Status.FAILED
    assert job.content is None
    html = admin_client_a.get(detail_url(job)).content.decode()
    assert "Extension number must be 3 to 6 digits (0–9)." in html
    assert '<td class="num">3</td>' in html
    assert apply_url(job) not in html
    apply_job(admin_client_a, job)
    assert dump() == before


def test_cancel(admin_client_a, org_a, apply_job):
    before = dump()
    job = upload(admin_client_a, make_csv([row("c@a.example.com")]))
    response = admin_client_a.post(cancel_url(job))
    assert response.status_code == 302
    assert response["Location"] == reverse("users:list")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED
    assert job.content is None
    apply_job(admin_client_a, job)
    assert dump() == before
    assert admin_client_a.get(status_url(job)).json()["finished"] is True


def test_jobs_are_the_uploading_admins_only(admin_client_a, admin_client_b, org_a, apply_job):
    job = upload(admin_client_a, make_csv([row("x@a.example.com")]))
    other = AdminFactory(organization=org_a, login_id="admin2@a.example.com", name="Admin Two")
    other_client = Client()
    other_client.force_login(other)
    for client in (other_client, admin_client_b):
        assert client.get(detail_url(job)).status_code == 404
        assert client.get(status_url(job)).status_code == 404
        assert client.post(apply_url(job)).status_code == 404
        assert client.post(cancel_url(job)).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED
    assert not User.objects.filter(login_id="x@a.example.com").exists()
    assert (
        admin_client_a.get(reverse("exports:import_detail", args=[uuid.uuid4()])).status_code == 404
    )


def test_members_and_anonymous_cannot_import(member_client_a, client, admin_client_a):
    job = upload(admin_client_a, make_csv([row("x@a.example.com")]))
    urls = [IMPORT_URL, detail_url(job), status_url(job)]
    posts = [IMPORT_URL, apply_url(job), cancel_url(job), passwords_url(job)]
    for url in urls:
        assert member_client_a.get(url).status_code == 403
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    for url in posts:
        assert member_client_a.post(url).status_code == 403
        assert client.post(url).status_code == 302
    assert client.put(IMPORT_URL).status_code == 302
    assert admin_client_a.put(IMPORT_URL).status_code == 405
    assert admin_client_a.get(apply_url(job)).status_code == 405
    assert not User.objects.filter(login_id="x@a.example.com").exists()


# --- audit --------------------------------------------------------------------------------------


def test_one_audit_event_per_added_and_updated_user(admin_client_a, org_a, admin_a, apply_job):
    users = [
        UserFactory(organization=org_a, login_id=f"old{i}@a.example.com", name=f"Old {i}")
        for i in range(3)
    ]
    data = make_csv(
        [
            same(users[0], name="Old Zero Renamed"),
            same(users[1], phone="1", dashboard="1"),
            same(users[2]),  # unchanged: no event
            row("n1@a.example.com", "N1"),
            row("n2@a.example.com", "N2", phone="1", meeting="1"),
            row("n3@a.example.com", "N3", admin="1"),
        ],
        header=[*HEADER, "Dashboard"],
    )
    job = upload(admin_client_a, data)
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    apply_job(admin_client_a, job)
    events = list(AuditEvent.objects.filter(id__gt=start))
    by_target = {}
    for event in events:
        by_target.setdefault(event.target_label, []).append(event.action)
    assert by_target == {
        "": ["import"],  # the import as a whole: who, when, how many
        "old0@a.example.com": ["user_update"],
        "old1@a.example.com": ["permissions_change"],
        "n1@a.example.com": ["user_create"],
        "n2@a.example.com": ["user_create"],
        "n3@a.example.com": ["user_create"],
    }
    for event in events:
        assert event.actor == admin_a
        assert event.organization == org_a
        assert event.channel == AuditEvent.Channel.IMPORT
    n2 = next(e for e in events if e.target_label == "n2@a.example.com")
    assert n2.changes["services"] == [None, ["meeting_access=host", "phone"]]


# --- all or nothing -----------------------------------------------------------------------------


def _many_rows(count: int) -> list[dict[str, str]]:
    return [
        row(
            f"bulk{i:03d}@a.example.com",
            f"Bulk {i}",
            ext=f"{1000 + i}",
            phone="1" if i < 20 else "0",
        )
        for i in range(count)
    ]


def test_a_row_that_becomes_invalid_after_the_dry_run_fails_the_whole_apply(
    admin_client_a, org_a, org_b, apply_job
):
    set_contract(org_a, user_limit=500)
    rows = _many_rows(200)
    job = upload(admin_client_a, make_csv(rows))
    assert job.status == ImportJob.Status.VALIDATED
    assert job.report["counts"]["add"] == 200
    # Between the dry run and the confirmation, the last login ID is taken elsewhere.
    UserFactory(organization=org_b, login_id="bulk199@a.example.com")
    before = dump(org_a)
    audit_before = AuditEvent.objects.count()
    job = apply_job(admin_client_a, job)
    assert job.status == ImportJob.Status.FAILED
    assert job.content is None
    assert job.result == {"error": "invalid"}
    bad = [r for r in job.report["rows"] if r["status"] == "error"]
    assert [(r["line"], r["login_id"]) for r in bad] == [(201, "bulk199@a.example.com")]
    assert bad[0]["errors"] == [["Login ID", "This login ID is already in use."]]
    assert dump(org_a) == before
    assert AuditEvent.objects.count() == audit_before
    html = admin_client_a.get(detail_url(job)).content.decode()
    assert "Nothing was imported." in html
    assert "This login ID is already in use." in html


def _fail_writing_audit_events(monkeypatch) -> list[int]:
    """Fail while the new users' audit records are written: after the updates and after the new
    users and their grants are in the database, so everything must be rolled back."""
    calls = []

    def failing(objs, *args, **kwargs):
        calls.append(len(list(objs)))
        raise RuntimeError("disk full")

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", failing)
    return calls


def _failing_file(org_a) -> tuple[bytes, list[User]]:
    set_contract(org_a, user_limit=500)
    existing = [
        UserFactory(organization=org_a, login_id=f"keep{i}@a.example.com", name=f"Keep {i}")
        for i in range(5)
    ]
    rows = [same(u, name=f"Renamed {i}", phone="1") for i, u in enumerate(existing)]
    return make_csv(rows + _many_rows(200)), existing


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_the_middle_of_apply_file_writes_nothing(org_a, admin_a, monkeypatch):
    data, _ = _failing_file(org_a)
    report = check(org_a, data, acting_user=admin_a)
    assert report.ok, errors(report)
    assert report.counts == {"add": 200, "update": 5, "unchanged": 0, "error": 0}
    before = dump()
    audit_before = AuditEvent.objects.count()
    calls = _fail_writing_audit_events(monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        apply(org_a, report, admin_a)
    assert calls == [205]  # the 5 updates' and the 200 new users' records, written last
    assert dump() == before
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_the_middle_of_the_apply_task_writes_nothing(org_a, admin_a, monkeypatch):
    data, _ = _failing_file(org_a)
    client = Client()
    client.force_login(admin_a)
    job = upload(client, data)
    assert job.status == ImportJob.Status.VALIDATED
    before = dump()
    audit_before = AuditEvent.objects.count()
    calls = _fail_writing_audit_events(monkeypatch)
    response = client.post(apply_url(job))
    assert response.status_code == 302
    job.refresh_from_db()
    assert calls == [205]  # the 5 updates' and the 200 new users' records, written last
    assert job.status == ImportJob.Status.FAILED
    assert job.result == {"error": "internal"}
    assert job.content is None
    assert dump() == before
    assert AuditEvent.objects.count() == audit_before
    assert "unexpected error" in client.get(detail_url(job)).content.decode()


# --- round trip ---------------------------------------------------------------------------------


@pytest.fixture
def varied_users(org_a, admin_a):
    """Users with every kind of value the file carries, CP932-safe so every encoding holds them."""
    set_contract(
        org_a,
        services=sorted(catalog.GRANTABLE_CODES - {catalog.PHONE_MOBILE, catalog.VIDEO_DASHBOARD}),
    )
    formula = UserFactory(organization=org_a, login_id="=a@example.com", name="=SUM(1+1)")
    ops = UserFactory(organization=org_a, login_id="-ops@example.com", name='-Ops, "night" team')
    GrantFactory(user=ops, service=catalog.PHONE)
    taro = AdminFactory(
        organization=org_a,
        login_id="Taro@A.example.com",
        name="山田 太郎",
        extension="1234",
        locale="en",
        time_zone="America/New_York",  # no longer offered: kept as it is
    )
    for code in (catalog.PHONE, catalog.MONITORING, catalog.DASHBOARD):
        GrantFactory(user=taro, service=code)
    GrantFactory(user=taro, service=catalog.MEETING_ACCESS, level="host")
    hanako = UserFactory(
        organization=org_a,
        login_id="hanako@a.example.com",
        name="髙橋 花子①",
        extension="000123",
        is_active=False,
    )
    # Kept from before the contract change (not in the contract any more).
    GrantFactory(user=hanako, service=catalog.PHONE_MOBILE)
    GrantFactory(user=hanako, service=catalog.VIDEO_DASHBOARD)
    GrantFactory(user=hanako, service=catalog.MEETING_ACCESS, level="all")
    UserFactory(organization=org_a, login_id="plus+tag@a.example.com", name="'=quoted")
    UserFactory(organization=org_a, login_id="at@a.example.com", name="@home")
    return {"formula": formula, "ops": ops, "taro": taro, "hanako": hanako}


@pytest.mark.parametrize(
    ("export_encoding", "import_encoding"),
    [("utf-8-sig", "utf-8"), ("utf-8", "utf-8"), ("shift_jis", "shift_jis")],
)
def test_round_trip_export_then_import_changes_nothing(
    admin_client_a, org_a, varied_users, apply_job, export_encoding, import_encoding
):
    response = admin_client_a.post(EXPORT_URL, {"encoding": export_encoding})
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    raw = csv_rows(data, export_encoding)
    cells = {c for record in raw for c in record}
    assert "'=a@example.com" in cells and "'-ops@example.com" in cells
    before = dump()
    audit_before = AuditEvent.objects.count()
    job = upload(admin_client_a, data, encoding=import_encoding)
    assert job.status == ImportJob.Status.VALIDATED, job.report
    total = User.objects.filter(organization=org_a).count()
    assert job.report["counts"] == {"add": 0, "update": 0, "unchanged": total, "error": 0}
    assert job.report["unknown_columns"] == []
    assert {r["login_id"] for r in job.report["rows"]} >= {"=a@example.com", "-ops@example.com"}
    job = apply_job(admin_client_a, job)
    assert job.status == ImportJob.Status.DONE
    assert job.result == {"added": 0, "updated": 0, "generated": 0}
    assert dump() == before
    # Only the import itself is recorded: no user changed.
    assert list(
        AuditEvent.objects.order_by("id").values_list("action", flat=True)[audit_before:]
    ) == ["import"]


def test_round_trip_with_japanese_headers(admin_client_a, admin_a, org_a, varied_users, apply_job):
    User.objects.filter(pk=admin_a.pk).update(locale="ja")
    data = b"".join(admin_client_a.post(EXPORT_URL, {"encoding": "utf-8-sig"}).streaming_content)
    assert csv_rows(data)[0][0] == "ログイン ID"
    before = dump()
    job = upload(admin_client_a, data)
    assert job.report["counts"]["unchanged"] == User.objects.filter(organization=org_a).count()
    apply_job(admin_client_a, job)
    assert dump() == before


@pytest.mark.parametrize("neutralised", [True, False], ids=["as-exported", "as-typed"])
def test_formula_login_ids_are_added_exactly(org_a, admin_a, neutralised):
    prefix = "'" if neutralised else ""
    data = make_csv(
        [
            row(f"{prefix}=a@example.com", f"{prefix}=Formula"),
            row(f"{prefix}-ops@example.com", f"{prefix}-Ops"),
        ]
    )
    report = check(org_a, data, acting_user=admin_a)
    assert report.ok, errors(report)
    apply(org_a, report, admin_a)
    assert User.objects.get(login_id="=a@example.com").name == "=Formula"
    assert User.objects.get(login_id="-ops@example.com").name == "-Ops"


# --- import_users command -----------------------------------------------------------------------


def run_import(path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_users", "--organization", "org-a", str(path), *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def test_command_dry_run_writes_nothing(tmp_path, org_a, admin_a, member_a):
    path = tmp_path / "in.csv"
    path.write_bytes(
        make_csv([row("d@a.example.com", password=STRONG), same(member_a, name="Renamed")])
    )
    before = dump()
    audit_before = AuditEvent.objects.count()
    out, err = run_import(path, "--dry-run")
    assert "1 to add, 1 to update, 0 unchanged, 0 with errors." in out
    assert "Dry run: nothing written." in err
    assert dump() == before
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize("dry_run", [True, False])
def test_command_fails_with_exit_1_when_any_row_fails(tmp_path, org_a, admin_a, dry_run):
    path = tmp_path / "in.csv"
    path.write_bytes(
        make_csv([row("ok@a.example.com", password=STRONG), row("bad@a.example.com", locale="5")])
    )
    before = dump()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "import_users",
            "--organization",
            "org-a",
            str(path),
            *(["--dry-run"] if dry_run else []),
            stdout=out,
            stderr=err,
        )
    assert excinfo.value.returncode == 1
    assert "problem" in str(excinfo.value)
    assert (
        "line 3: bad@a.example.com: Locale: Locale must be 0 (Japanese) or 1 (English)."
        in err.getvalue()
    )
    assert "1 to add, 0 to update, 0 unchanged, 1 with errors." in out.getvalue()
    assert dump() == before


def test_command_progress_bar_on_stderr(tmp_path, org_a, admin_a):
    set_contract(org_a, user_limit=500)
    path = tmp_path / "in.csv"
    path.write_bytes(
        make_csv([row(f"p{i}@a.example.com", f"P {i}", password=STRONG) for i in range(120)])
    )
    out, err = run_import(path)
    assert "Imported: 120 added, 0 updated." in out
    assert "Hashing passwords [" in err
    assert "Hashing passwords" not in out
    # The bar ends full.
    assert "120/120" in err
    assert User.objects.filter(organization=org_a).count() == 121


def test_command_writes_generated_passwords_to_a_file_with_mode_600(tmp_path, org_a, admin_a):
    path = tmp_path / "in.csv"
    path.write_bytes(
        make_csv([row("g1@a.example.com", "G1"), row("g2@a.example.com", "G2", password=STRONG)])
    )
    secret = tmp_path / "passwords.csv"
    out, _ = run_import(path, "--passwords-file", str(secret))
    assert "Imported: 2 added, 0 updated." in out
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    records = csv_rows(secret.read_bytes())
    assert records[0] == ["Login ID", "Temporary password"]
    assert [r[0] for r in records[1:]] == ["g1@a.example.com"]
    password = csv_format.restore(records[1][1])
    g1 = User.objects.get(login_id="g1@a.example.com")
    assert g1.check_password(password) and g1.must_change_password
    assert password not in out
    for event in AuditEvent.objects.all():
        assert password not in f"{event.changes} {event.detail} {event.target_label}"
        assert event.actor is None and event.actor_label.startswith("operator:import_users")


def test_command_refuses_generated_passwords_without_a_passwords_file(tmp_path, org_a, admin_a):
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv([row("g1@a.example.com", "G1")]))
    before = dump()
    with pytest.raises(CommandError, match="passwords-file"):
        run_import(path)
    assert dump() == before


def test_command_round_trip_with_export_users(tmp_path, org_a, varied_users):
    path = tmp_path / "users.csv"
    call_command(
        "export_users", "--organization", "org-a", "--output", str(path), stderr=io.StringIO()
    )
    before = dump()
    out, _err = run_import(path)
    total = User.objects.filter(organization=org_a).count()
    assert f"0 to add, 0 to update, {total} unchanged, 0 with errors." in out
    assert "Imported: 0 added, 0 updated." in out
    assert dump() == before


def test_command_applies_the_last_admin_rule(tmp_path, org_a, admin_a):
    path = tmp_path / "in.csv"
    path.write_bytes(make_csv([same(admin_a, active="0")]))
    before = dump()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_users", "--organization", "org-a", str(path), stdout=out, stderr=err)
    assert "without an active admin" in err.getvalue()
    assert dump() == before
