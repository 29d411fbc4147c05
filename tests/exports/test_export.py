"""CSV download (/users/export/) and the export_users command (docs/csv.md;
docs/security.md): the bytes decoded with each codec and compared cell by cell, the
list's filters, tenant isolation, download headers, the Shift_JIS refusal before any byte, the
audit record, access rules, and a query count that does not grow with the number of users."""

import codecs
import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Contract, User
from audit.models import AuditEvent
from exports import exporting
from exports.csv_format import restore
from permissions import catalog
from tests.exports.headers import EN_HEADER, JA_HEADER
from tests.factories import AdminFactory, GrantFactory, OrganizationFactory, UserFactory

EXPORT_URL = reverse("exports:export")
BOM = codecs.BOM_UTF8
CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "shift_jis": "cp932"}
CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "shift_jis": "Windows-31J"}
ENCODINGS = list(CODECS)


# The rows of the `people` fixture, as the English file must show them.
TARO_ROW = {
    "Login ID": "taro@a.example.com",
    "User name": "山田 太郎",
    "Extension number": "1234",
    "Locale": "1",
    "Time zone": "America/New_York",
    "Administrative privileges": "1",
    "Monitoring privileges": "1",
    "MiiTel Phone": "1",
    "MiiTel Phone Mobile": "0",
    "Call History": "0",
    "Dashboard": "1",
    "Video Analytics": "0",
    "Full-text search": "0",
    "Funnel (beta)": "0",
    "Video Dashboard (beta)": "0",
    "Edit meeting access permission": "1",
    "Active": "1",
}
HANAKO_ROW = {
    "Login ID": "hanako@a.example.com",
    "User name": "髙橋 花子①",
    "Extension number": "",
    "Locale": "0",
    "Time zone": "Asia/Tokyo",
    "Administrative privileges": "0",
    "Monitoring privileges": "0",
    "MiiTel Phone": "0",
    "MiiTel Phone Mobile": "1",
    "Call History": "1",
    "Dashboard": "0",
    "Video Analytics": "1",
    "Full-text search": "1",
    "Funnel (beta)": "1",
    "Video Dashboard (beta)": "1",
    "Edit meeting access permission": "2",
    "Active": "0",
}


# --- helpers ------------------------------------------------------------------------------------


def set_language(user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(locale=language)
    user.locale = language


def grant(user: User, *codes: str, meeting: str | None = None) -> None:
    for code in codes:
        GrantFactory(user=user, service=code)
    if meeting:
        GrantFactory(user=user, service=catalog.MEETING_ACCESS, level=meeting)


def download(client, encoding: str = "utf-8-sig", **filters) -> tuple[object, bytes]:
    response = client.post(EXPORT_URL, {"encoding": encoding, **filters})
    assert response.status_code == 200, response.content[:2000]
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content)


def decode(data: bytes, encoding: str) -> str:
    """Strict decoding with the codec the encoding promises (utf-8-sig drops exactly one BOM)."""
    return data.decode(CODECS[encoding], errors="strict")


def table(data: bytes, encoding: str) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows as {label: cell}), cells as the importer reads them (neutralising undone)."""
    records = list(csv.reader(io.StringIO(decode(data, encoding), newline="")))
    header, body = records[0], records[1:]
    for record in body:
        assert len(record) == len(header)
    return header, [dict(zip(header, map(restore, r), strict=True)) for r in body]


def login_ids(data: bytes, encoding: str = "utf-8-sig") -> list[str]:
    return [row[table(data, encoding)[0][0]] for row in table(data, encoding)[1]]


@pytest.fixture
def people(org_a, admin_a, org_b, admin_b):
    """Two users of A with every code the file carries, and look-alikes in B."""
    taro = AdminFactory(
        organization=org_a,
        login_id="taro@a.example.com",
        name="山田 太郎",
        extension="1234",
        locale=User.Locale.ENGLISH,
        time_zone="America/New_York",
    )
    grant(taro, catalog.MONITORING, catalog.PHONE, catalog.DASHBOARD, meeting="host")
    hanako = UserFactory(
        organization=org_a,
        login_id="hanako@a.example.com",
        name="髙橋 花子①",
        locale=User.Locale.JAPANESE,
        is_active=False,
    )
    grant(
        hanako,
        catalog.PHONE_MOBILE,
        catalog.CALL_HISTORY,
        catalog.VIDEO_ANALYTICS,
        catalog.FULLTEXT_SEARCH,
        catalog.FUNNEL,
        catalog.VIDEO_DASHBOARD,
        meeting="all",
    )
    jiro = UserFactory(organization=org_a, login_id="jiro@a.example.com", name="鈴木 次郎")
    grant(jiro, catalog.PHONE)
    b_taro = UserFactory(organization=org_b, login_id="taro@b.example.com", name="山田 太郎")
    grant(b_taro, catalog.PHONE)
    return {"taro": taro, "hanako": hanako, "jiro": jiro, "b_taro": b_taro}


ORG_A_LOGIN_IDS = {
    "admin@a.example.com",
    "taro@a.example.com",
    "hanako@a.example.com",
    "jiro@a.example.com",
}


# --- the form -------------------------------------------------------------------------------------


def test_get_shows_the_encoding_choices(admin_client_a, admin_a):
    set_language(admin_a, "en")
    response = admin_client_a.get(EXPORT_URL)
    assert response.status_code == 200
    html = response.content.decode()
    for value in ("utf-8-sig", "utf-8", "shift_jis"):
        assert f'value="{value}"' in html
    assert "Only the users that match" not in html
    assert "no-store" in response["Cache-Control"]


def test_get_with_the_lists_filters_says_so_and_carries_them(admin_client_a, admin_a):
    set_language(admin_a, "en")
    response = admin_client_a.get(
        EXPORT_URL, {"q": "taro", "status": "active", "role": "admin", "service": "phone"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Only the users that match" in html
    assert "Search: taro" in html
    assert 'name="q" value="taro"' in html
    assert 'name="status" value="active"' in html
    assert 'name="role" value="admin"' in html
    assert 'name="service" value="phone"' in html


# --- the file -------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_each_encoding_streams_a_file_that_decodes_with_its_codec(
    admin_client_a, admin_a, people, encoding
):
    set_language(admin_a, "en")
    response, data = download(admin_client_a, encoding)
    assert response["Content-Type"] == f"text/csv; charset={CHARSETS[encoding]}"
    if encoding == "utf-8-sig":
        assert data.startswith(BOM)
        assert data.count(BOM) == 1
    else:
        assert BOM not in data
    header, rows = table(data, encoding)
    assert header == EN_HEADER
    by_login = {row["Login ID"]: row for row in rows}
    assert set(by_login) == ORG_A_LOGIN_IDS
    assert by_login["taro@a.example.com"] == TARO_ROW
    assert by_login["hanako@a.example.com"] == HANAKO_ROW


def test_crlf_line_ends(admin_client_a, admin_a, people):
    _, data = download(admin_client_a, "utf-8")
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    assert len(lines) - 1 == 1 + len(ORG_A_LOGIN_IDS)
    assert all(b"\n" not in line and b"\r" not in line for line in lines)


@pytest.mark.parametrize(("language", "header"), [("en", EN_HEADER), ("ja", JA_HEADER)])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_header_labels_in_the_admins_language(
    admin_client_a, admin_a, people, language, header, encoding
):
    set_language(admin_a, language)
    _, data = download(admin_client_a, encoding)
    assert table(data, encoding)[0] == header


def test_admin_row_and_codes_compared_cell_by_cell(admin_client_a, admin_a):
    set_language(admin_a, "ja")
    _, data = download(admin_client_a, "utf-8")
    _header, rows = table(data, "utf-8")
    assert rows == [
        dict(
            zip(
                JA_HEADER,
                [
                    "admin@a.example.com",
                    "Admin A",
                    "",
                    "0",
                    "Asia/Tokyo",
                    "1",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0",
                    "1",
                ],
                strict=True,
            )
        )
    ]


def test_analytics_columns_follow_the_contract(admin_client_a, admin_a, org_a, people):
    set_language(admin_a, "en")
    Contract.objects.filter(organization=org_a).update(
        services=sorted(catalog.GRANTABLE_CODES - {catalog.FUNNEL, catalog.VIDEO_DASHBOARD})
    )
    _, data = download(admin_client_a, "utf-8")
    header, rows = table(data, "utf-8")
    assert header == [h for h in EN_HEADER if h not in ("Funnel (beta)", "Video Dashboard (beta)")]
    hanako = next(r for r in rows if r["Login ID"] == "hanako@a.example.com")
    assert hanako["Call History"] == "1"


def test_formula_cells_are_neutralised_in_the_file(admin_client_a, admin_a, org_a):
    set_language(admin_a, "en")
    UserFactory(organization=org_a, login_id="=a@example.com", name="=SUM(A1:A9)")
    UserFactory(organization=org_a, login_id="-ops@example.com", name='@Ops, "team"')
    UserFactory(organization=org_a, login_id="+plus@example.com", name="+81 desk")
    _, data = download(admin_client_a, "utf-8")
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))
    cells = {cell for record in records[1:] for cell in record}
    assert {"'=a@example.com", "'=SUM(A1:A9)", "'-ops@example.com", "'+plus@example.com"} <= cells
    assert '\'@Ops, "team"' in cells
    assert "'+81 desk" in cells
    assert b'"\'@Ops, ""team"""' in data  # RFC 4180 quoting of the comma and the quotes
    for record in records:
        for cell in record:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert {r["Login ID"] for r in table(data, "utf-8")[1]} >= {
        "=a@example.com",
        "-ops@example.com",
        "+plus@example.com",
    }


# --- filters and tenants ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ORG_A_LOGIN_IDS),
        ({"q": "taro"}, {"taro@a.example.com"}),
        ({"q": "山田"}, {"taro@a.example.com"}),
        ({"q": "1234"}, {"taro@a.example.com"}),
        ({"role": "admin"}, {"admin@a.example.com", "taro@a.example.com"}),
        ({"role": "member"}, {"hanako@a.example.com", "jiro@a.example.com"}),
        ({"status": "inactive"}, {"hanako@a.example.com"}),
        ({"status": "active", "role": "member"}, {"jiro@a.example.com"}),
        ({"service": "phone"}, {"taro@a.example.com", "jiro@a.example.com"}),
        ({"service": "admin"}, {"admin@a.example.com", "taro@a.example.com"}),
        ({"service": "meeting_access"}, {"taro@a.example.com", "hanako@a.example.com"}),
        ({"q": "nobody-matches"}, set()),
    ],
)
def test_only_the_users_matching_the_filters(admin_client_a, people, filters, expected):
    _, data = download(admin_client_a, "utf-8-sig", **filters)
    assert set(login_ids(data)) == expected


def test_sort_of_the_list_is_kept(admin_client_a, people):
    _, data = download(admin_client_a, "utf-8-sig", sort="login_id", dir="desc")
    assert login_ids(data) == sorted(ORG_A_LOGIN_IDS, reverse=True)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_other_organizations_users_are_never_in_the_file(
    admin_client_a, admin_client_b, people, encoding
):
    _, data_a = download(admin_client_a, encoding, q="taro")
    assert b"taro@b.example.com" not in data_a
    assert set(login_ids(data_a, encoding)) == {"taro@a.example.com"}
    _, data_b = download(admin_client_b, encoding)
    assert set(login_ids(data_b, encoding)) == {"admin@b.example.com", "taro@b.example.com"}
    for login_id in ORG_A_LOGIN_IDS:
        assert login_id.encode() not in data_b


# --- download headers -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_download_headers(admin_client_a, people, encoding):
    response, _ = download(admin_client_a, encoding)
    assert response["Content-Disposition"] == 'attachment; filename="users.csv"'
    assert response["Content-Type"] == f"text/csv; charset={CHARSETS[encoding]}"
    assert "no-store" in response["Cache-Control"]


def test_the_filename_is_chosen_by_the_server(admin_client_a, people):
    response, _ = download(admin_client_a, "utf-8", filename="../../etc/passwd")
    assert response["Content-Disposition"] == 'attachment; filename="users.csv"'


# --- Shift_JIS refusal --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["𠮷田 花子", "Smile 😀", "波〜ダッシュ"])
def test_a_name_cp932_cannot_hold_refuses_shift_jis_before_any_byte(
    admin_client_a, admin_a, org_a, people, name
):
    set_language(admin_a, "en")
    UserFactory(organization=org_a, login_id="odd@a.example.com", name=name)
    response = admin_client_a.post(EXPORT_URL, {"encoding": "shift_jis"})
    assert response.status_code == 400
    assert not response.streaming
    assert not isinstance(response, StreamingHttpResponse)
    assert "Content-Disposition" not in response
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "odd@a.example.com" in html
    assert name in html
    assert "Nothing was downloaded" in html
    # The page offers UTF-8 (with BOM) instead, for the same users.
    assert 'name="encoding" value="utf-8-sig"' in html
    assert "Download in UTF-8 with BOM" in html
    # The other users were fine: only the offending one is named.
    assert "taro@a.example.com" not in html
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_the_refusal_keeps_the_filters_and_utf8_then_holds_the_name(
    admin_client_a, admin_a, org_a, people
):
    set_language(admin_a, "en")
    UserFactory(organization=org_a, login_id="yoshida@a.example.com", name="𠮷田 太郎")
    response = admin_client_a.post(EXPORT_URL, {"encoding": "shift_jis", "q": "田"})
    assert response.status_code == 400
    assert 'name="q" value="田"' in response.content.decode()
    _, data = download(admin_client_a, "utf-8-sig", q="田")
    rows = {r["Login ID"]: r for r in table(data, "utf-8-sig")[1]}
    assert rows["yoshida@a.example.com"]["User name"] == "𠮷田 太郎"


def test_shift_jis_works_when_the_filters_leave_out_the_offending_user(
    admin_client_a, org_a, people
):
    UserFactory(organization=org_a, login_id="yoshida@a.example.com", name="𠮷田 太郎")
    _, data = download(admin_client_a, "shift_jis", q="taro")
    assert set(login_ids(data, "shift_jis")) == {"taro@a.example.com"}


def test_shift_jis_holds_cp932_characters(admin_client_a, org_a):
    UserFactory(organization=org_a, login_id="cp932@a.example.com", name="～①髙Ⅰ№")
    _, data = download(admin_client_a, "shift_jis")
    assert "～①髙Ⅰ№".encode("cp932") in data
    rows = {r["ログイン ID"]: r for r in table(data, "shift_jis")[1]}  # admin_a reads Japanese
    assert rows["cp932@a.example.com"]["ユーザー名"] == "～①髙Ⅰ№"


def test_the_refusal_names_the_first_50_users_and_counts_the_rest(admin_client_a, admin_a, org_a):
    set_language(admin_a, "en")
    for i in range(52):
        UserFactory(organization=org_a, login_id=f"bad{i:02d}@a.example.com", name=f"𠮷 {i}")
    response = admin_client_a.post(EXPORT_URL, {"encoding": "shift_jis"})
    assert response.status_code == 400
    html = response.content.decode()
    named = [i for i in range(52) if f"bad{i:02d}@a.example.com" in html]
    assert len(named) == 50
    assert "52 users" in html
    assert "and 2 more users" in html


def test_the_pre_check_reads_the_names_in_chunks_and_names_the_users_in_list_order(
    org_a, admin_a, monkeypatch
):
    """A chunk whose names all fit is passed with one test; one that holds a name that does not
    is checked name by name, so the users named and counted are those of a name-by-name check."""
    monkeypatch.setattr(exporting, "CHUNK_SIZE", 3)
    monkeypatch.setattr(exporting, "MAX_REPORTED", 2)
    names = ["Ａ 0", "𠮷 1", "B 2", "C 3", "D 4", "E 5", "😀 6", "波〜 7", "F 8", "髙① 9"]
    for i, name in enumerate(names):
        UserFactory(organization=org_a, login_id=f"u{i}@a.example.com", name=name)
    qs = exporting.export_queryset(organization=org_a, params={"sort": "login_id"})
    found, total = exporting.unencodable_users(qs, "shift_jis")
    assert total == 3
    assert found == [
        {"login_id": "u1@a.example.com", "name": "𠮷 1", "characters": "𠮷"},
        {"login_id": "u6@a.example.com", "name": "😀 6", "characters": "😀"},
    ]
    assert exporting.unencodable_users(qs, "utf-8-sig") == ([], 0)


# --- audit, access --------------------------------------------------------------------------------


def test_an_export_is_audited(admin_client_a, admin_a, org_a, people):
    download(admin_client_a, "shift_jis", q="taro")
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == admin_a
    assert event.organization == org_a
    assert "encoding=shift_jis" in event.detail
    assert "q=taro" in event.detail
    assert event.outcome == AuditEvent.Outcome.SUCCESS


def test_members_get_403(member_client_a, people):
    assert member_client_a.get(EXPORT_URL).status_code == 403
    assert member_client_a.post(EXPORT_URL, {"encoding": "utf-8"}).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_sign_in(client, people, method):
    response = getattr(client, method)(EXPORT_URL, {"encoding": "utf-8"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_405(admin_client_a, method):
    assert getattr(admin_client_a, method)(EXPORT_URL).status_code == 405


def test_an_unknown_encoding_is_a_form_error_not_a_file(admin_client_a, people):
    response = admin_client_a.post(EXPORT_URL, {"encoding": "latin-1"})
    assert not response.streaming
    assert "Content-Disposition" not in response
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- queries ------------------------------------------------------------------------------------


def add_users(organization, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        user = UserFactory(organization=organization, name=f"大量 {i}", extension=f"{5000 + i}")
        GrantFactory(user=user, service=catalog.PHONE if i % 2 else catalog.DASHBOARD)
        if i % 3 == 0:
            GrantFactory(user=user, service=catalog.MEETING_ACCESS, level="host")


def export_query_count(client, encoding: str) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(EXPORT_URL, {"encoding": encoding})
        assert response.status_code == 200
        data = b"".join(response.streaming_content)
    return len(ctx.captured_queries), data


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_query_count_does_not_grow_with_the_number_of_users(
    admin_client_a, org_a, encoding, django_assert_max_num_queries
):
    Contract.objects.filter(organization=org_a).update(user_limit=500, service_limits={})
    add_users(org_a, 10)
    few, data = export_query_count(admin_client_a, encoding)
    assert len(login_ids(data, encoding)) == 11
    add_users(org_a, 90, start=10)
    with django_assert_max_num_queries(few):
        many, data = export_query_count(admin_client_a, encoding)
    assert len(login_ids(data, encoding)) == 101
    assert many == few
    # The session and the user; the transfer slot (savepoint, contract lock, purge, count,
    # insert, release); the audit record; the Shift_JIS pre-check's names; the file in one
    # statement (on PostgreSQL a COPY, which needs no savepoint of its own, where the Python
    # path's server-side cursor took two more); the slot freed after the last byte.
    assert few == 11 + (encoding == "shift_jis")


# --- export_users command ---------------------------------------------------------------------


def run_export(tmp_path, *args: str) -> tuple[bytes, str]:
    path = tmp_path / "users.csv"
    err = io.StringIO()
    call_command(
        "export_users", "--organization", "org-a", "--output", str(path), *args, stderr=err
    )
    return path.read_bytes(), err.getvalue()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_command_writes_each_encoding_to_a_file(tmp_path, people, encoding):
    data, err = run_export(tmp_path, "--encoding", encoding, "--language", "en")
    assert "Wrote" in err
    assert data.count(BOM) == (1 if encoding == "utf-8-sig" else 0)
    header, rows = table(data, encoding)
    assert header == EN_HEADER
    by_login = {r["Login ID"]: r for r in rows}
    assert set(by_login) == ORG_A_LOGIN_IDS
    assert by_login["taro@a.example.com"] == TARO_ROW
    assert by_login["hanako@a.example.com"] == HANAKO_ROW
    assert b"taro@b.example.com" not in data


def test_command_default_is_utf8_bom_with_japanese_headers(tmp_path, people):
    data, _ = run_export(tmp_path)
    assert data.startswith(BOM)
    assert table(data, "utf-8-sig")[0] == JA_HEADER


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--search", "taro"], {"taro@a.example.com"}),
        (["--role", "admin"], {"admin@a.example.com", "taro@a.example.com"}),
        (["--status", "inactive"], {"hanako@a.example.com"}),
        (["--service", "phone"], {"taro@a.example.com", "jiro@a.example.com"}),
        (["--status", "active", "--role", "member"], {"jiro@a.example.com"}),
    ],
)
def test_command_filters(tmp_path, people, args, expected):
    data, _ = run_export(tmp_path, *args)
    assert set(login_ids(data)) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_command_writes_the_same_bytes_as_the_console(
    tmp_path, admin_client_a, admin_a, people, encoding
):
    set_language(admin_a, "en")
    _, console = download(admin_client_a, encoding)
    data, _ = run_export(tmp_path, "--encoding", encoding, "--language", "en")
    assert data == console


def test_command_refuses_shift_jis_for_a_name_it_cannot_hold(tmp_path, org_a, people):
    UserFactory(organization=org_a, login_id="yoshida@a.example.com", name="𠮷田 太郎")
    path = tmp_path / "users.csv"
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "export_users",
            "--organization",
            "org-a",
            "--encoding",
            "shift_jis",
            "--output",
            str(path),
            stderr=io.StringIO(),
        )
    message = str(excinfo.value)
    assert "yoshida@a.example.com" in message
    assert "𠮷" in message
    assert "utf-8" in message
    assert "taro@a.example.com" not in message
    assert not path.exists()


def test_command_writes_to_stdout(people, capsysbinary):
    call_command("export_users", "--organization", "org-a", "--encoding", "utf-8")
    data = capsysbinary.readouterr().out
    assert BOM not in data
    assert set(login_ids(data, "utf-8")) == ORG_A_LOGIN_IDS


def test_command_unknown_organization(tmp_path, people):
    with pytest.raises(CommandError, match="no-such-org"):
        call_command(
            "export_users", "--organization", "no-such-org", "--output", str(tmp_path / "x.csv")
        )


def test_command_other_organization_only_its_users(tmp_path, org_b, people):
    OrganizationFactory(slug="org-c")
    path = tmp_path / "b.csv"
    call_command(
        "export_users", "--organization", "org-b", "--output", str(path), stderr=io.StringIO()
    )
    assert set(login_ids(path.read_bytes())) == {"admin@b.example.com", "taro@b.example.com"}
