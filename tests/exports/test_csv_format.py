"""exports.csv_format (docs/csv.md; docs/security.md): the user CSV as pure functions.

Formula neutralising and its exact inverse, RFC 4180 writing with CRLF, the three encodings (one BOM
for utf-8-sig, none for utf-8, CP932 for shift_jis), decoding that refuses the wrong encoding
instead of producing mojibake, record reading, header matching and the column layout."""

import codecs
import csv
import io

import pytest
from django.utils import translation
from hypothesis import example, given
from hypothesis import strategies as st

from exports import csv_format
from exports.csv_format import (
    CsvFormatError,
    batched,
    columns_for,
    decode_file,
    encode_rows,
    fits_encoding,
    flags_maker,
    header_row,
    import_columns,
    match_header,
    neutralise,
    read_rows,
    restore,
    row_maker,
)
from permissions import catalog
from tests.exports.headers import EN_HEADER, JA_HEADER

BOM = codecs.BOM_UTF8
RISKY = ["=", "+", "-", "@", "\t", "\r"]
CP932_ONLY = "～①髙Ⅰ№"  # CP932 holds these; plain Shift_JIS (JIS X 0208) does not hold all


class FakeContract:
    """Just what columns_for() asks of a contract."""

    def __init__(self, services):
        self.services = list(services)

    def has_service(self, code: str) -> bool:
        return code in self.services


FULL = FakeContract(catalog.GRANTABLE_CODES)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def written(rows, encoding="utf-8") -> bytes:
    return b"".join(encode_rows(rows, encoding))


def read_back(data: bytes, encoding: str) -> list[list[str]]:
    """What the importer sees: decode, read records, restore every cell."""
    text = decode_file(data, encoding)
    return [[restore(cell) for cell in cells] for _, cells in read_rows(text)]


# --- neutralise / restore ------------------------------------------------------------------


@pytest.mark.parametrize("start", RISKY)
def test_a_cell_starting_with_a_formula_character_gets_one_apostrophe(start):
    value = f"{start}cmd|' /C calc'!A0"
    assert neutralise(value) == "'" + value
    assert restore(neutralise(value)) == value


@pytest.mark.parametrize("start", RISKY)
@pytest.mark.parametrize("apostrophes", [1, 2, 3])
def test_apostrophes_before_a_formula_character_get_one_more_and_come_back(start, apostrophes):
    value = "'" * apostrophes + start + "1+1"
    assert neutralise(value) == "'" * (apostrophes + 1) + start + "1+1"
    assert restore(neutralise(value)) == value


@pytest.mark.parametrize(
    "value",
    ["", "plain", "1-2", "a=b", "a@example.com", " =leading space", "'", "''", "'quoted", "'1"],
)
def test_safe_cells_are_left_alone_and_restore_leaves_them_alone(value):
    assert neutralise(value) == value
    assert restore(value) == value


@pytest.mark.parametrize("value", ["=", "-", "@", "+", "\t", "\r"])
def test_a_lone_formula_character_is_neutralised(value):
    assert neutralise(value) == "'" + value
    assert restore("'" + value) == value


@pytest.mark.parametrize(
    ("login_id", "cell"),
    [("=a@example.com", "'=a@example.com"), ("-ops@example.com", "'-ops@example.com")],
)
def test_legal_login_ids_with_formula_starts_are_exported_neutralised(login_id, cell):
    assert neutralise(login_id) == cell
    assert restore(cell) == login_id


def test_restore_only_removes_an_apostrophe_that_neutralise_added():
    assert restore("'abc") == "'abc"  # a name that really starts with an apostrophe
    assert restore("''abc") == "''abc"
    assert restore("'=abc") == "=abc"
    assert restore("''=abc") == "'=abc"


formula_text = st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "a", " "]))


@given(st.one_of(st.text(), formula_text))
@example("")
@example("'")
@example("''-ops@example.com")
@example("\r\n=1")
def test_restore_undoes_neutralise_for_every_text(value):
    out = neutralise(value)
    assert restore(out) == value
    # What a spreadsheet sees never starts like a formula.
    assert not out.startswith(tuple(RISKY))


ROWS = st.lists(
    st.lists(st.one_of(st.text(), formula_text), min_size=1, max_size=6).filter(
        lambda row: any(cell.strip() for cell in row)
    ),
    min_size=1,
    max_size=8,
)


@given(
    ROWS.filter(lambda rows: not any("\x00" in cell for row in rows for cell in row)),
    st.sampled_from(["utf-8", "utf-8-sig"]),
)
def test_any_rows_written_and_read_back_are_the_same_rows(rows, encoding):
    assert read_back(written(rows, encoding), encoding) == rows


@given(ROWS, st.sampled_from(["utf-8", "utf-8-sig"]))
@example([["a@x.example.com", "\x00"]], "utf-8")
@example([["\x00" * 40]], "utf-8")
def test_rows_with_a_nul_are_refused_on_reading_never_read_back_changed(rows, encoding):
    # No stored value holds a NUL (the validators refuse control characters), so an export
    # never writes one; a file that has one is refused as a whole (a file of NULs as UTF-16).
    data = written(rows, encoding)
    if not any("\x00" in cell for row in rows for cell in row):
        assert read_back(data, encoding) == rows
        return
    with pytest.raises(CsvFormatError, match=r"NUL|UTF-16"), translation.override("en"):
        read_back(data, encoding)


# --- writing: RFC 4180, CRLF ---------------------------------------------------------------


def test_rfc4180_quoting_of_commas_quotes_and_newlines():
    data = written([["a,b", 'say "hi"', "line1\nline2", "cr\r\nlf", "plain"]])
    assert data == b'"a,b","say ""hi""","line1\nline2","cr\r\nlf",plain\r\n'
    assert parse(data.decode()) == [["a,b", 'say "hi"', "line1\nline2", "cr\r\nlf", "plain"]]


def test_neutralised_cells_are_quoted_when_they_need_it():
    data = written([["=1+1", "-a,b", "@x", "+1", "\tx", "\rx"]])
    assert data == b"'=1+1,\"'-a,b\",'@x,'+1,'\tx,\"'\rx\"\r\n"
    assert parse(data.decode()) == [["'=1+1", "'-a,b", "'@x", "'+1", "'\tx", "'\rx"]]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "shift_jis"])
def test_every_record_ends_with_crlf_and_there_is_no_bare_lf(encoding):
    rows = [["Login ID", "User name"], *([f"u{i}@example.com", f"ユーザー {i}"] for i in range(50))]
    data = written(rows, encoding)
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == len(rows)
    assert data.replace(b"\r\n", b"").count(b"\n") == 0
    assert data.replace(b"\r\n", b"").count(b"\r") == 0


def test_one_chunk_per_row():
    chunks = list(encode_rows([["a"], ["b"], ["c"]], "utf-8"))
    assert chunks == [b"a\r\n", b"b\r\n", b"c\r\n"]


# --- encodings -----------------------------------------------------------------------------


def test_utf8_sig_has_exactly_one_bom_at_byte_zero_across_many_rows_and_chunks():
    rows = [["Login ID", "User name"], *([f"u{i}@example.com", f"山田 {i}"] for i in range(5000))]
    chunks = list(batched(encode_rows(rows, "utf-8-sig"), size=512))
    assert len(chunks) > 50
    data = b"".join(chunks)
    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    assert all(not chunk.startswith(BOM) for chunk in chunks[1:])
    assert data[3:].decode("utf-8").splitlines()[0] == "Login ID,User name"


def test_utf8_sig_bom_even_for_an_empty_file():
    assert written([], "utf-8-sig") == BOM


@pytest.mark.parametrize("rows", [[], [["Login ID"]], [["a"], ["山田"]]])
def test_utf8_has_no_bom(rows):
    data = written(rows, "utf-8")
    assert BOM not in data
    assert not data.startswith(b"\xef")


def test_shift_jis_is_written_as_cp932_and_decodes_back():
    rows = [
        ["Login ID", "User name"],
        ["u@example.com", CP932_ONLY],
        ["v@example.com", "山田 太郎"],
    ]
    data = written(rows, "shift_jis")
    assert (
        data
        == "Login ID,User name\r\nu@example.com,～①髙Ⅰ№\r\nv@example.com,山田 太郎\r\n".encode(
            "cp932"
        )
    )
    assert BOM not in data
    assert parse(data.decode("cp932")) == rows
    assert read_back(data, "shift_jis") == rows
    with pytest.raises(UnicodeEncodeError):
        CP932_ONLY.encode("shift_jis")  # why CP932: plain Shift_JIS refuses some of these


@pytest.mark.parametrize("ch", list(CP932_ONLY))
def test_cp932_characters_fit_shift_jis(ch):
    assert fits_encoding(ch, "shift_jis")
    assert fits_encoding(f"髙橋 {ch}", "shift_jis")


@pytest.mark.parametrize(
    "text",
    ["😀", "𠮷", "〜", "𠮷野家", "山田 😀"],
    ids=["emoji", "tsuchiyoshi", "wave-dash-301C", "in-a-name", "emoji-in-a-name"],
)
def test_characters_cp932_cannot_hold_unchanged_do_not_fit_shift_jis(text):
    assert not fits_encoding(text, "shift_jis")
    assert fits_encoding(text, "utf-8")
    assert fits_encoding(text, "utf-8-sig")


def test_wave_dash_does_not_fit_because_cp932_would_change_it():
    # Either CP932 refuses U+301C, or it reads back as U+FF5E: both would mangle the name.
    try:
        back = "〜".encode("cp932").decode("cp932")
    except UnicodeError:
        back = None
    assert back != "〜"
    assert not fits_encoding("〜", "shift_jis")


@pytest.mark.parametrize("text", ["", "ascii only", "山田 太郎", "ﾔﾏﾀﾞ"])
def test_ordinary_text_fits_every_encoding(text):
    for encoding in csv_format.ENCODINGS:
        assert fits_encoding(text, encoding)


def test_encode_rows_refuses_what_the_encoding_cannot_hold_instead_of_mangling():
    with pytest.raises(UnicodeEncodeError):
        written([["u@example.com", "𠮷田"]], "shift_jis")


def test_codecs_and_response_charsets():
    assert csv_format.CODECS == {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "shift_jis": "cp932"}
    assert csv_format.CHARSETS["shift_jis"] == "Windows-31J"
    assert csv_format.CHARSETS["utf-8"] == csv_format.CHARSETS["utf-8-sig"] == "utf-8"
    assert set(csv_format.ENCODINGS) == {"utf-8", "utf-8-sig", "shift_jis"}


def test_batched_keeps_every_byte_in_order_and_groups_chunks():
    chunks = [bytes([i % 256]) * 10 for i in range(1000)]
    blocks = list(batched(chunks, size=256))
    assert b"".join(blocks) == b"".join(chunks)
    assert all(len(block) >= 256 for block in blocks[:-1])
    assert list(batched([], size=10)) == []


# --- decode_file -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_decode_accepts_and_drops_a_utf8_bom(encoding):
    text = "Login ID,User name\r\nu@example.com,山田\r\n"
    assert decode_file(BOM + text.encode(), encoding) == text
    assert decode_file(text.encode(), encoding) == text


def test_decode_shift_jis_reads_cp932():
    text = f"Login ID,User name\r\nu@example.com,{CP932_ONLY}\r\n"
    assert decode_file(text.encode("cp932"), "shift_jis") == text


def test_shift_jis_bytes_read_as_utf8_are_an_error_naming_the_line():
    data = "Login ID,User name\r\nu@example.com,Taro\r\nv@example.com,山田太郎\r\n".encode("cp932")
    with pytest.raises(CsvFormatError) as excinfo, translation.override("en"):
        decode_file(data, "utf-8")
    message = str(excinfo.value)
    assert "line 3" in message
    assert "UTF-8" in message


@pytest.mark.parametrize("name", ["山田太郎", "佐藤花子", "ユーザー名", "田中", "中田"])
def test_utf8_bytes_read_as_shift_jis_are_an_error_naming_the_line_never_mojibake(name):
    data = f"Login ID,User name\r\nu@example.com,Taro\r\nv@example.com,{name}\r\n".encode()
    with pytest.raises(CsvFormatError) as excinfo, translation.override("en"):
        text = decode_file(data, "shift_jis")
        pytest.fail(f"UTF-8 bytes decoded as CP932 without an error: {text!r}")
    assert "line 3" in str(excinfo.value)


def test_a_utf8_bom_file_read_as_shift_jis_is_an_error():
    data = BOM + b"Login ID,User name\r\nu@example.com,Taro\r\n"
    with pytest.raises(CsvFormatError):
        decode_file(data, "shift_jis")


def test_unknown_encoding_is_an_error():
    with pytest.raises(CsvFormatError):
        decode_file(b"a,b", "latin-1")


# --- read_rows -------------------------------------------------------------------------------


def test_crlf_and_lf_read_the_same():
    crlf = "Login ID,User name\r\na@example.com,A\r\nb@example.com,B\r\n"
    lf = crlf.replace("\r\n", "\n")
    assert list(read_rows(crlf)) == list(read_rows(lf))
    assert list(read_rows(lf)) == [
        (1, ["Login ID", "User name"]),
        (2, ["a@example.com", "A"]),
        (3, ["b@example.com", "B"]),
    ]


def test_quoted_commas_and_newlines_stay_in_their_cell_and_lines_are_counted():
    text = 'Login ID,Note\r\na@example.com,"one,\r\ntwo\r\nthree"\r\nb@example.com,"x ""y"""\r\n'
    assert list(read_rows(text)) == [
        (1, ["Login ID", "Note"]),
        (2, ["a@example.com", "one,\r\ntwo\r\nthree"]),
        (5, ["b@example.com", 'x "y"']),
    ]


def test_blank_lines_are_skipped_wherever_they_are_and_line_numbers_stay_true():
    text = 'h1,h2\n\nx,y\n  \n,,\n"",\nlast,1\n\n\n\r\n'
    assert list(read_rows(text)) == [(1, ["h1", "h2"]), (3, ["x", "y"]), (7, ["last", "1"])]


def test_no_trailing_newline_reads_the_last_record():
    assert list(read_rows("a,b\r\nc,d")) == [(1, ["a", "b"]), (2, ["c", "d"])]


@pytest.mark.parametrize(
    ("text", "line"),
    [('a,b\r\nc,"d"e\r\n', 2), ('a,b\r\nc,d\r\ne,"unterminated\r\nmore\r\n', 4)],
    ids=["text-after-closing-quote", "unterminated-quote"],
)
def test_malformed_csv_is_an_error_naming_the_line(text, line):
    with pytest.raises(CsvFormatError) as excinfo, translation.override("en"):
        list(read_rows(text))
    assert f"line {line}" in str(excinfo.value)


# --- UTF-16 files and NUL characters ----------------------------------------------------------

SMALL = "Login ID,User name\r\na1@x.example.com,A\r\n"
UTF16_FILES = {
    # `iconv -t UTF-16LE` (no BOM), and Excel's "Unicode text" (a BOM, little- or big-endian).
    "le-no-bom": SMALL.encode("utf-16-le"),
    "be-no-bom": SMALL.encode("utf-16-be"),
    "le-bom": codecs.BOM_UTF16_LE + SMALL.encode("utf-16-le"),
    "be-bom": codecs.BOM_UTF16_BE + SMALL.encode("utf-16-be"),
    "le-bom-japanese": codecs.BOM_UTF16_LE + "ログイン ID,ユーザー名\r\n".encode("utf-16-le"),
    "bom-only": codecs.BOM_UTF16_LE,
}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "shift_jis"])
@pytest.mark.parametrize("data", UTF16_FILES.values(), ids=UTF16_FILES.keys())
def test_a_utf16_file_is_refused_saying_how_to_save_it(data, encoding):
    with pytest.raises(CsvFormatError) as excinfo, translation.override("en"):
        decode_file(data, encoding)
    message = str(excinfo.value)
    assert "UTF-16" in message
    assert "CSV UTF-8" in message and "Shift_JIS" in message
    assert "\x00" not in message


@pytest.mark.parametrize("encoding", ["utf-8", "shift_jis"])
def test_a_single_nul_is_not_taken_for_utf16(encoding):
    # Half the byte pairs of a UTF-16 file hold a NUL; one stray NUL is read_rows' business.
    data = b"Login ID,User name\r\na1@x.example.com,A\x00\r\n"
    assert decode_file(data, encoding) == data.decode()


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("Login ID,User\x00 name\r\na@x.example.com,A\r\n", 1, 2),
        ("Login ID,User name\r\na@x.example.com\x00,A\r\n", 2, 1),
        ("Login ID,User name,Time zone\r\na@x.example.com,A,Asia/Tok\x00yo\r\n", 2, 3),
        ('Login ID,User name\r\na@x.example.com,"A\r\nB"\r\nb@x.example.com,\x00\r\n', 4, 2),
        ("Login ID,User name\r\n\x00\r\n", 2, 1),
        ('Login ID,User name\r\n"a@x\r\n.example.com","B\r\nC\x00"\r\n', 4, 2),
    ],
    ids=[
        "header-cell",
        "login-id",
        "time-zone",
        "after-a-multi-line-cell",
        "alone-on-a-line",
        "inside-a-multi-line-record",
    ],
)
def test_a_nul_in_any_cell_is_refused_naming_its_line_and_column(text, line, column):
    with pytest.raises(CsvFormatError) as excinfo, translation.override("en"):
        list(read_rows(text))
    message = str(excinfo.value)
    assert f"Line {line}, column {column}" in message
    assert "NUL" in message
    assert "\x00" not in message


# --- columns and headers -------------------------------------------------------------------


def test_columns_in_published_order_with_labels_in_both_languages():
    columns = columns_for(FULL)
    assert header_row(columns, "en") == EN_HEADER
    assert header_row(columns, "ja") == JA_HEADER
    assert [c.key for c in columns][:5] == ["login_id", "name", "extension", "locale", "time_zone"]
    assert columns[-1].key == "is_active"


def test_only_the_contracts_analytics_features_are_columns():
    contract = FakeContract([catalog.PHONE, catalog.MONITORING, catalog.DASHBOARD])
    header = header_row(columns_for(contract), "en")
    assert "Dashboard" in header
    for absent in ("Call History", "Video Analytics", "Full-text search", "Funnel (beta)"):
        assert absent not in header
    # The fixed columns stay, whatever the contract.
    for fixed in ("Monitoring privileges", "MiiTel Phone", "MiiTel Phone Mobile"):
        assert fixed in header
    assert "Edit meeting access permission" in header


def test_import_recognises_every_analytics_feature_and_the_password_column():
    keys = [c.key for c in import_columns(FakeContract([catalog.PHONE]))]
    assert set(catalog.ANALYTICS_CODES) <= set(keys)
    assert keys[-1] == "password"
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_match_header_accepts_either_language(language):
    columns = import_columns(FULL)
    header = [*(EN_HEADER if language == "en" else JA_HEADER)]
    mapping, unknown = match_header(header, columns)
    assert unknown == []
    assert [mapping[i].key for i in range(len(header))] == [c.key for c in columns_for(FULL)]


@pytest.mark.parametrize(
    ("cell", "key"),
    [
        ("login id", "login_id"),
        ("LOGIN ID", "login_id"),
        ("  Login   ID ", "login_id"),
        ("LoginID", "login_id"),
        ("ログインID", "login_id"),
        ("ログイン　ID", "login_id"),  # ideographic space
        ("user NAME", "name"),
        ("Temporary Password", "password"),
        ("仮パスワード", "password"),
        ("Password", "password"),
        ("ADMINISTRATIVE PRIVILEGES", catalog.ADMIN),
        ("monitoring\tprivileges", catalog.MONITORING),
        ("miitel phone mobile", catalog.PHONE_MOBILE),
        ("Timezone", "time_zone"),
        ("ユーザーを有効化", "is_active"),
    ],
)
def test_match_header_ignores_spacing_and_case(cell, key):
    mapping, unknown = match_header([cell], import_columns(FULL))
    assert unknown == []
    assert mapping[0].key == key


def test_match_header_reports_unknown_and_repeated_columns_and_ignores_blank_ones():
    cells = ["Login ID", "Department", "User name", "", "login id", "部署"]
    mapping, unknown = match_header(cells, import_columns(FULL))
    assert {i: c.key for i, c in mapping.items()} == {0: "login_id", 2: "name"}
    assert unknown == ["Department", "login id", "部署"]


# --- a user's row, the way the export makes it ------------------------------------------------


def user_row(user: dict, grants: dict[str, str], columns) -> list[str]:
    """One user's cells through the export's own functions (row_maker and flags_maker).
    `user`: login_id, name, extension, locale, time_zone, role, is_active; `grants`:
    {code: level}."""
    fields = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")
    grant_codes = ",".join(f"{code}={level}" for code, level in grants.items())
    return row_maker(columns)(tuple(user[f] for f in fields), flags_maker(columns)(grant_codes))


def test_user_row_codes():
    user = {
        "login_id": "-ops@example.com",
        "name": "山田 太郎",
        "extension": "1234",
        "locale": "en",
        "time_zone": "America/New_York",
        "role": "admin",
        "is_active": False,
    }
    grants = {
        catalog.MONITORING: "",
        catalog.PHONE: "",
        catalog.DASHBOARD: "",
        "meeting_access": "all",
    }
    row = dict(zip(EN_HEADER, user_row(user, grants, columns_for(FULL)), strict=True))
    assert row == {
        "Login ID": "'-ops@example.com",  # neutralised where the row is made
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
        "Edit meeting access permission": "2",
        "Active": "0",
    }


@pytest.mark.parametrize(
    ("grants", "code"),
    [({}, "0"), ({"meeting_access": "none"}, "0"), ({"meeting_access": "host"}, "1")],
)
def test_user_row_meeting_access_and_member_codes(grants, code):
    user = {
        "login_id": "m@example.com",
        "name": "M",
        "extension": "",
        "locale": "ja",
        "time_zone": "Asia/Tokyo",
        "role": "member",
        "is_active": True,
    }
    row = dict(zip(EN_HEADER, user_row(user, grants, columns_for(FULL)), strict=True))
    assert row["Edit meeting access permission"] == code
    assert row["Locale"] == "0"
    assert row["Administrative privileges"] == "0"
    assert row["Active"] == "1"
    assert row["Extension number"] == ""
