"""The export's COPY path (PostgreSQL) writes exactly the bytes of the Python path
(docs/csv.md, docs/performance.md): the same data through both, compared byte for byte, in all
three encodings, over every filter and sort of the User List. The data has every character a
cell may start with that the formula neutralising cares about (and apostrophes before them),
commas, quotes, line breaks inside a name, `\\.`, Japanese, CP932-only characters, empty
extensions, every locale, services, meeting access levels, roles and inactive users."""

import codecs
import csv
import io
from datetime import timedelta

import psycopg
import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Contract, Organization, User
from exports import copying, csv_format
from exports.exporting import export_bytes, export_queryset, unencodable_users
from permissions import catalog
from permissions.models import ServiceGrant
from tests.factories import OrganizationFactory, UserFactory
from users import selectors

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="COPY is PostgreSQL's: on SQLite the export has only the Python path, which every "
    "other export test runs",
)

ENCODINGS = list(csv_format.ENCODINGS)

NAMES = [
    "山田 太郎",
    "=SUM(A1:A9)",
    "+81 desk",
    "-1",
    '@Ops, "team"',
    "\tTabbed",
    "\rCarriage",
    "'=already",
    "''+twice",
    "'",
    "''",
    "'apostrophe",
    "it's",
    "a,b",
    'say "hi"',
    '"',
    ",",
    "\\.",
    "～①髙Ⅰ№",
    "ⅰ￢∥ 小文字",  # PostgreSQL's own SJIS writes ⅰ as FA40, Python's CP932 as EEEF
    "ｶﾀｶﾅ ﾃｽﾄ",
    "line\nbreak",
    "cr\r\nlf",
    "ends with cr\r",
    'quote "\nthen" break',
    "\n",
    " leading space",
    "trailing space ",
    "",
    "東京,大阪",
    "-",
    "=",
    "'\t",
    "emoji 😀",
    "𠮷田 花子",
    "波〜ダッシュ",
    "Zoë Ångström",
    "山田 太郎",  # the same name twice: ties are ordered by id
]
LOGIN_PREFIXES = ["", "=", "+", "-", "@", "\t", "\r", "'=", "''-", "'", "q,", 'q"', "\\.", "'a"]
EXTENSIONS = ["", "12", "-1", "=2", "+3", "@4", "'-5", "'6", "7,8", '"9', "\t1", "\\.", ""]
LOCALES = ["ja", "en", "", "x", "=x", "'-", "'", "ja", "en"]
TIME_ZONES = [
    "Asia/Tokyo",
    "America/New_York",
    "-05:00",
    "=tz",
    "",
    "'+9",
    "a,b",
    'q"z',
    "\ttz",
    "@UTC",
    "Asia/Tokyo",
]
GRANT_SETS = [
    (),
    (catalog.PHONE,),
    (catalog.MONITORING, catalog.PHONE),
    (catalog.PHONE_MOBILE, catalog.CALL_HISTORY),
    (catalog.DASHBOARD, catalog.VIDEO_ANALYTICS, catalog.FULLTEXT_SEARCH),
    (catalog.FUNNEL, catalog.VIDEO_DASHBOARD),
    tuple(sorted(catalog.GRANTABLE_CODES - {catalog.MEETING_ACCESS})),
]
MEETING_LEVELS = [None, "none", "host", "all", ""]


def make_users(organization: Organization, domain: str) -> list[User]:
    users = []
    now = timezone.now()
    for i, name in enumerate(NAMES):
        extension = EXTENSIONS[i % len(EXTENSIONS)]
        user = UserFactory(
            organization=organization,
            login_id=f"{LOGIN_PREFIXES[i % len(LOGIN_PREFIXES)]}user{i}@{domain}",
            name=name,
            extension=f"{extension}{i}"[:6] if extension else "",
            locale=LOCALES[i % len(LOCALES)],
            time_zone=TIME_ZONES[i % len(TIME_ZONES)],
            role=User.Role.ADMIN if i % 3 == 0 else User.Role.MEMBER,
            is_active=i % 4 != 1,
            last_login=None if i % 5 == 0 else now - timedelta(hours=i % 7),
        )
        for code in GRANT_SETS[i % len(GRANT_SETS)]:
            ServiceGrant.objects.create(organization=organization, user=user, service=code)
        level = MEETING_LEVELS[i % len(MEETING_LEVELS)]
        if level is not None:
            ServiceGrant.objects.create(
                organization=organization, user=user, service=catalog.MEETING_ACCESS, level=level
            )
        users.append(user)
    return users


@pytest.fixture
def awkward(org_a, admin_a, org_b):
    """Organization A's users with every awkward value; B has the same, and must not appear."""
    make_users(org_a, "a.example.com")
    make_users(org_b, "b.example.com")
    return Organization.objects.select_related("contract").get(pk=org_a.pk)


FILTERS = [
    {},
    {"q": "user1"},
    {"q": "'"},
    {"q": "="},
    {"q": "%"},
    {"q": "_"},
    {"q": "\\"},
    {"q": "山田"},
    {"q": "nobody-matches"},
    {"role": "admin"},
    {"role": "member"},
    {"status": "inactive"},
    {"status": "active", "role": "member"},
    {"service": "phone"},
    {"service": "admin"},
    {"service": "meeting_access"},
    {"service": "funnel"},
    *({"sort": sort} for sort in selectors.SORTS),
    *({"sort": sort, "dir": "desc"} for sort in selectors.SORTS),
    {"q": "1", "sort": "extension", "dir": "desc"},
]


def both_paths(organization, qs, encoding: str, language: str = "en") -> tuple[bytes, bytes]:
    def run(engine: str) -> bytes:
        return b"".join(
            export_bytes(
                organization=organization,
                qs=qs,
                language=language,
                encoding=encoding,
                engine=engine,
            )
        )

    return run("python"), run("copy")


def fitting(qs, encoding: str):
    """The users whose names `encoding` holds: what the Shift_JIS pre-check lets through."""
    if encoding != "shift_jis":
        return qs
    found, total = unencodable_users(qs, encoding)
    assert total == len(found)
    return qs.exclude(login_id__in=[f["login_id"] for f in found])


def records(data: bytes, encoding: str) -> list[list[str]]:
    text = data.decode(csv_format.CODECS[encoding])
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_both_paths_write_the_same_bytes_for_every_filter_and_sort(awkward, encoding):
    for params in FILTERS:
        qs = fitting(export_queryset(organization=awkward, params=params), encoding)
        python, copy = both_paths(awkward, qs, encoding)
        assert copy == python, params
        assert len(records(copy, encoding)) == 1 + qs.count(), params


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_file_compared_is_the_awkward_one(awkward, encoding):
    """The bytes compared above hold what they should: neutralised cells, quoted cells, line
    breaks inside a name, CRLF row ends, one BOM for utf-8-sig."""
    qs = fitting(export_queryset(organization=awkward, params={}), encoding)
    python, copy = both_paths(awkward, qs, encoding)
    assert copy == python
    assert copy.count(codecs.BOM_UTF8) == (1 if encoding == "utf-8-sig" else 0)
    rows = records(copy, encoding)
    cells = {cell for row in rows[1:] for cell in row}
    assert {"'=SUM(A1:A9)", "'+81 desk", "'-1", "'\tTabbed", "'\rCarriage", "''=already"} <= cells
    assert {"'''+twice", "''\t", "'-", "'="} <= cells
    assert {"'", "''", "'apostrophe", "a,b", 'say "hi"', "\\.", "～①髙Ⅰ№", "line\nbreak"} <= cells
    assert {"'=user1@a.example.com", "''=user7@a.example.com", "'=x", "''-"} <= cells
    assert {"'-05:00", "'=tz", "''+9", "'@UTC", "'\ttz"} <= cells
    assert {"'-12", "'=23", "''-56", "'\t110"} <= cells
    assert b'"@Ops, ""team"""' not in copy  # neutralised: the apostrophe comes first
    assert b'"\'@Ops, ""team"""' in copy
    assert b'"line\nbreak"' in copy
    body = copy
    for quoted in (b'"line\nbreak"', b'"cr\r\nlf"', b'"quote ""\nthen"" break"', b'"\n"'):
        assert quoted in body
        body = body.replace(quoted, b"")
    assert body.count(b"\n") == body.count(b"\r\n") == len(rows)
    if encoding == "shift_jis":
        assert "ⅰ￢∥ 小文字".encode("cp932") in copy
        assert b"\xee\xef" in copy  # ⅰ as Python's CP932 writes it
    else:
        assert "𠮷田 花子" in cells
    assert not any("b.example.com" in cell for cell in cells)


def test_both_paths_agree_in_japanese_and_when_the_contract_leaves_out_analytics(awkward):
    Contract.objects.filter(organization=awkward).update(
        services=sorted(
            catalog.GRANTABLE_CODES - {catalog.FUNNEL, catalog.VIDEO_DASHBOARD, catalog.DASHBOARD}
        )
    )
    organization = Organization.objects.select_related("contract").get(pk=awkward.pk)
    for encoding in ENCODINGS:
        qs = fitting(export_queryset(organization=organization, params={}), encoding)
        python, copy = both_paths(organization, qs, encoding, language="ja")
        assert copy == python
        header = records(copy, encoding)[0]
        assert "ファネル（ベータ）" not in header
        assert len(header) == 14


def test_rows_are_passed_on_in_blocks_and_each_block_ends_its_rows_with_crlf(awkward, monkeypatch):
    """Blocks of a few rows: some hold a name with a line break (their rows' ends are
    rewritten one by one), the others do not (rewritten at once)."""
    monkeypatch.setattr(copying, "BLOCK_ROWS", 3)
    for encoding in ENCODINGS:
        qs = fitting(export_queryset(organization=awkward, params={}), encoding)
        chunks = list(
            export_bytes(
                organization=awkward, qs=qs, language="en", encoding=encoding, engine="copy"
            )
        )
        assert len(chunks) == 1 + -(-qs.count() // 3)  # the header, then blocks of 3 rows
        python, _ = both_paths(awkward, qs, encoding)
        assert b"".join(chunks) == python


def test_a_name_shift_jis_cannot_hold_fails_both_paths_alike(awkward):
    """The pre-check stops such an export before any byte (test_export.py); were it skipped,
    neither path would write a changed name."""
    qs = export_queryset(organization=awkward, params={"q": "𠮷"})
    for engine in ("python", "copy"):
        chunks = export_bytes(
            organization=awkward, qs=qs, language="en", encoding="shift_jis", engine=engine
        )
        with pytest.raises(UnicodeEncodeError):
            b"".join(chunks)


def test_the_copy_runs_through_the_execute_wrappers_and_the_query_log(awkward):
    """The tenant-scoping test (tests/security/test_query_scoping.py) and the query counts see
    the COPY like any other statement."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    qs = export_queryset(organization=awkward, params={})
    with CaptureQueriesContext(connection) as logged, connection.execute_wrapper(wrapper):
        data = b"".join(
            export_bytes(
                organization=awkward, qs=qs, language="en", encoding="utf-8", engine="copy"
            )
        )
    assert [q["sql"] for q in logged.captured_queries] == [s for s, _ in seen]
    assert len(seen) == 1
    sql, params = seen[0]
    assert sql.startswith("COPY (SELECT ")
    assert sql.endswith(") TO STDOUT WITH (FORMAT csv)")
    assert '"users_user"."organization_id" = %s' in sql
    assert awkward.pk in params
    assert data.count(b"\r\n") > len(NAMES)


@pytest.mark.django_db(transaction=True)
def test_a_download_closed_midway_leaves_the_connection_ready(monkeypatch):
    """The client goes away: the response closes the stream, which ends the COPY (psycopg
    cancels it), and the next statement on the connection (the transfer slot's release) runs.
    Outside a transaction, as a streamed response runs."""
    monkeypatch.setattr(copying, "BLOCK_ROWS", 2)
    organization = OrganizationFactory(slug="closing")
    for i in range(40):
        UserFactory(organization=organization, name=f"Closing {i:02d}")
    organization = Organization.objects.select_related("contract").get(pk=organization.pk)
    qs = export_queryset(organization=organization, params={})
    chunks = export_bytes(organization=organization, qs=qs, language="en", encoding="utf-8")
    header, first = next(chunks), next(chunks)
    assert header.startswith(b"Login ID,")
    assert first.count(b"\r\n") == 2
    chunks.close()
    assert not connection.in_atomic_block
    assert User.objects.filter(organization=organization).count() == 40
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_an_unknown_meeting_access_level_fails_both_paths(org_a, admin_a):
    """No service writes one; were one stored, neither path would guess its code."""
    user = UserFactory(organization=org_a, name="Odd level")
    ServiceGrant.objects.create(
        organization=org_a, user=user, service=catalog.MEETING_ACCESS, level="owner"
    )
    organization = Organization.objects.select_related("contract").get(pk=org_a.pk)
    qs = export_queryset(organization=organization, params={})
    with pytest.raises(KeyError):
        b"".join(
            export_bytes(
                organization=organization, qs=qs, language="en", encoding="utf-8", engine="python"
            )
        )
    with pytest.raises(DataError, match="unreadable service grant of "):
        b"".join(
            export_bytes(
                organization=organization, qs=qs, language="en", encoding="utf-8", engine="copy"
            )
        )


def test_postgresql_exports_through_copy_by_default(org_a, admin_a):
    qs = export_queryset(organization=org_a, params={})
    with CaptureQueriesContext(connection) as logged:
        data = b"".join(export_bytes(organization=org_a, qs=qs, language="en", encoding="utf-8"))
    assert [q["sql"][:13] for q in logged.captured_queries] == ["COPY (SELECT "]
    assert b"admin@a.example.com" in data


def test_another_organization_of_the_same_shape_gets_its_own_users(awkward, org_b):
    organization = Organization.objects.select_related("contract").get(pk=org_b.pk)
    qs = export_queryset(organization=organization, params={})
    python, copy = both_paths(organization, qs, "utf-8")
    assert copy == python
    assert b"a.example.com" not in copy
    assert copy.count(b"b.example.com") == len(NAMES)


def test_an_organization_with_no_users_but_its_header(db):
    organization = OrganizationFactory(slug="empty")
    organization = Organization.objects.select_related("contract").get(pk=organization.pk)
    qs = export_queryset(organization=organization, params={})
    for encoding in ENCODINGS:
        python, copy = both_paths(organization, qs, encoding)
        assert copy == python
        assert len(records(copy, encoding)) == 1
