"""Files the import must refuse cleanly: Excel's "Unicode text" (UTF-16)
saved as .csv, and NUL characters in any cell. PostgreSQL stores neither a NUL in a text column
nor "\\u0000" in a JSON one, so these were 500s when the report was stored or a login ID looked
up. Now the file is refused with a message saying what to do; no user, grant or audit row is
written, and the stored report holds no NUL. Through the upload view and the import_users
command, which both read the file through exports.csv_format."""

import codecs
import io
import json

import hypothesis
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import resolve
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from accounts.models import User
from audit.models import AuditEvent
from exports import importing
from exports.exporting import export_bytes, export_queryset
from exports.models import ImportJob
from permissions import catalog
from tests.exports.test_import import (
    BOM,
    IMPORT_URL,
    detail_url,
    dump,
    make_csv,
    row,
    upload,
)
from tests.factories import GrantFactory, UserFactory

pytestmark = pytest.mark.django_db

ISSUE_FILE = "Login ID,User name\r\na1@x.example.com,A\r\n"
UTF16 = {
    # printf 'Login ID,User name\r\na1@x.example.com,A\r\n' | iconv -t UTF-16LE > f.csv
    "iconv-utf16le": ISSUE_FILE.encode("utf-16-le"),
    # Excel's "Unicode text" (tab-separated there; the separator makes no difference here).
    "excel-unicode-text": codecs.BOM_UTF16_LE
    + make_csv([row("u16@a.example.com")]).decode().encode("utf-16-le"),
    "big-endian-with-bom": codecs.BOM_UTF16_BE + ISSUE_FILE.encode("utf-16-be"),
}
NUL_FILES = {
    "header-cell": (b"Login ID,User\x00 name\r\nnew@a.example.com,New\r\n", 1, 2),
    "login-id": (b"Login ID,User name\r\nmember@a.example.com\x00,Renamed\r\n", 2, 1),
    "new-login-id": (b"Login ID,User name\r\nfresh\x00@a.example.com,Fresh\r\n", 2, 1),
    "time-zone": (
        b"Login ID,User name,Time zone\r\nnew@a.example.com,New,Asia/Tok\x00yo\r\n",
        2,
        3,
    ),
    "unknown-column-header": (b"Login ID,User name,\x00\r\nnew@a.example.com,New,x\r\n", 1, 3),
}


def no_nul_stored(job: ImportJob) -> None:
    assert "\\u0000" not in json.dumps(job.report) and "\x00" not in job.filename


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)


@pytest.fixture
def untouched(org_a, admin_a, member_a):
    """What the database holds before the upload, to compare after it."""
    return dump(), AuditEvent.objects.count()


def assert_untouched(untouched) -> None:
    assert (dump(), AuditEvent.objects.count()) == untouched


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis"])
@pytest.mark.parametrize("data", UTF16.values(), ids=UTF16.keys())
def test_a_utf16_file_is_refused_with_what_to_do(admin_client_a, untouched, data, encoding):
    admin_client_a.raise_request_exception = False

    job = upload(admin_client_a, data, encoding=encoding)

    assert job.status == ImportJob.Status.FAILED
    assert job.content is None
    (message,) = job.report["file_errors"]
    assert message == (
        "This looks like a UTF-16 file (Excel's “Unicode text”). Save it as “CSV UTF-8” or "
        "“CSV” (Shift_JIS) and upload it again."
    )
    page = admin_client_a.get(detail_url(job))
    assert page.status_code == 200
    assert "CSV UTF-8" in page.content.decode()
    no_nul_stored(job)
    assert_untouched(untouched)


@pytest.mark.parametrize(("data", "line", "column"), NUL_FILES.values(), ids=NUL_FILES.keys())
def test_a_nul_in_a_cell_is_refused_naming_line_and_column(
    admin_client_a, untouched, data, line, column
):
    admin_client_a.raise_request_exception = False

    job = upload(admin_client_a, data)

    assert job.status == ImportJob.Status.FAILED
    (message,) = job.report["file_errors"]
    assert message.startswith(f"Line {line}, column {column} holds a NUL character")
    assert job.report["rows"] == [] and job.report["unknown_columns"] == []
    assert admin_client_a.get(detail_url(job)).status_code == 200
    no_nul_stored(job)
    assert_untouched(untouched)


def test_a_nul_in_the_file_name_is_not_stored(admin_client_a, untouched):
    job = upload(admin_client_a, make_csv([row("n@a.example.com")]), filename="us\x00ers.csv")

    assert job.status == ImportJob.Status.VALIDATED
    no_nul_stored(job)
    assert_untouched(untouched)


def run_dry_run(path) -> tuple[CommandError, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "import_users",
            "--organization",
            "org-a",
            str(path),
            "--dry-run",
            stdout=io.StringIO(),
            stderr=err,
        )
    return excinfo.value, err.getvalue()


@pytest.mark.parametrize("data", UTF16.values(), ids=UTF16.keys())
def test_the_command_refuses_a_utf16_file(tmp_path, untouched, data):
    path = tmp_path / "f.csv"
    path.write_bytes(data)

    error, stderr = run_dry_run(path)

    assert error.returncode == 1
    assert "error: This looks like a UTF-16 file" in stderr
    assert_untouched(untouched)


@pytest.mark.parametrize(("data", "line", "column"), NUL_FILES.values(), ids=NUL_FILES.keys())
def test_the_command_refuses_a_nul_naming_line_and_column(tmp_path, untouched, data, line, column):
    path = tmp_path / "f.csv"
    path.write_bytes(data)

    error, stderr = run_dry_run(path)

    assert error.returncode == 1
    assert f"error: Line {line}, column {column} holds a NUL character" in stderr
    assert_untouched(untouched)


# --- property: any bytes through the dry run ----------------------------------------------------

FUZZ = hypothesis.settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
POSITION = st.integers(0, 10**6)  # taken modulo the file's length
ODD_INSERTS = st.sampled_from(
    [b"\x00", b'"', b",", b"\r\n", b"\n", b"\r", b"\xff", BOM, b"'=", b"=1+1", "山".encode()]
)
MUTATION = st.one_of(
    st.tuples(st.just("insert"), POSITION, ODD_INSERTS | st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("replace"), POSITION, st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), POSITION, st.integers(1, 40)),
    st.tuples(st.just("truncate"), POSITION, st.just(0)),
)


def mutated(data: bytes, mutations) -> bytes:
    buffer = bytearray(data)
    for kind, position, arg in mutations:
        at = position % (len(buffer) + 1)
        if kind == "insert":
            buffer[at:at] = arg
        elif kind == "replace":
            buffer[at : at + len(arg)] = arg
        elif kind == "delete":
            del buffer[at : at + arg]
        else:
            del buffer[at:]
    return bytes(buffer)


@pytest.fixture
def exported(org_a, admin_a, member_a) -> dict[str, bytes]:
    """The organization's own export, in each encoding (and as UTF-16, as Excel re-saves it)."""
    UserFactory(organization=org_a, login_id="=sum@a.example.com", name="=SUM(1+1)")
    taro = UserFactory(organization=org_a, login_id="taro@a.example.com", name="山田 太郎①")
    GrantFactory(user=taro, service=catalog.PHONE)
    UserFactory(organization=org_a, login_id="ext@a.example.com", name="O'Brien", extension="301")
    files = {}
    for encoding in ("utf-8-sig", "shift_jis"):
        files[encoding] = b"".join(
            export_bytes(
                organization=org_a,
                qs=export_queryset(organization=org_a, params={}),
                language="en",
                encoding=encoding,
            )
        )
    files["utf-16"] = files["utf-8-sig"].decode("utf-8-sig").encode("utf-16")
    return files


@FUZZ
@given(
    base=st.sampled_from(["utf-8-sig", "shift_jis", "utf-16", "bytes"]),
    random_bytes=st.binary(max_size=3000),
    mutations=st.lists(MUTATION, max_size=6),
    encoding=st.sampled_from(["utf-8", "shift_jis"]),
    through=st.sampled_from(["engine", "view"]),
)
@example(
    base="bytes",
    random_bytes=ISSUE_FILE.encode("utf-16-le"),
    mutations=[],
    encoding="utf-8",
    through="view",
)
@example(
    base="utf-8-sig",
    random_bytes=b"",
    mutations=[("insert", 40, b"\x00")],
    encoding="utf-8",
    through="view",
)
def test_any_bytes_through_the_dry_run_never_fail_and_write_nothing(
    admin_a, admin_client_a, org_a, exported, base, random_bytes, mutations, encoding, through
):
    data = mutated(random_bytes if base == "bytes" else exported[base], mutations)
    before = dump(), AuditEvent.objects.count()
    admin_client_a.raise_request_exception = False

    if through == "engine":
        report = importing.validate_file(
            organization=org_a, data=data, encoding=encoding, acting_user=admin_a, language="en"
        )
        stored = report.to_json()
    else:
        response = admin_client_a.post(
            IMPORT_URL,
            {"file": SimpleUploadedFile("f.csv", data, "text/csv"), "encoding": encoding},
        )
        # 302: the stored report; 400: a form error (an empty file).
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 400:
            assert data == b""
            stored = {}
        else:
            job = ImportJob.objects.get(pk=resolve(response["Location"]).kwargs["job_id"])
            assert admin_client_a.get(response["Location"]).status_code == 200
            stored = job.report

    # The report is text PostgreSQL stores: no NUL, no lone surrogate.
    text = json.dumps(stored, ensure_ascii=False)
    assert "\x00" not in text and "\\u0000" not in text
    text.encode("utf-8")
    assert (dump(), AuditEvent.objects.count()) == before
