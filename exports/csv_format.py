"""The user CSV (docs/csv.md), as pure functions: rows <-> bytes, encodings, formula safety.

Nothing here touches the database or the request: the export view and command stream what
`encode_rows` yields, the import parses with `decode_file` and `read_rows`.
"""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from permissions import catalog

# --- Encodings ----------------------------------------------------------------------------------

ENCODINGS = {
    "utf-8-sig": _("UTF-8 with BOM (Excel)"),
    "utf-8": _("UTF-8"),
    "shift_jis": _("Shift_JIS (Windows, CP932)"),
}
# Shift_JIS is written and read as CP932: what Excel on Japanese Windows uses (it holds ① 髙
# Ⅰ № ～ that plain shift_jis refuses).
CODECS = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "shift_jis": "cp932"}
# The charset of the HTTP response (IANA names; CP932's is Windows-31J).
CHARSETS = {"utf-8-sig": "utf-8", "utf-8": "utf-8", "shift_jis": "Windows-31J"}


def fits_encoding(text: str, encoding: str) -> bool:
    """Whether `text` survives a round trip through `encoding` unchanged. CP932 maps some
    characters onto others (〜 U+301C is read back as ～ U+FF5E), which counts as not fitting:
    an export must never silently change a name."""
    codec = CODECS[encoding]
    try:
        return text.encode(codec).decode(codec) == text
    except UnicodeError:
        return False


# --- Formula injection (OWASP "CSV Injection") -------------------------------------------------

RISKY_STARTS = ("=", "+", "-", "@", "\t", "\r")


_FIRST_CHARS = frozenset({*(c[0] for c in RISKY_STARTS), "'"})


def _needs_quote(value: str) -> bool:
    # A value starting with ' followed by what would need one gets one more, so that restore()
    # undoes exactly what neutralise() did and every value round-trips.
    stripped = value.lstrip("'")
    return stripped.startswith(RISKY_STARTS)


def neutralise(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe."""
    return "'" + value if _needs_quote(value) else value


def restore(value: str) -> str:
    """Undo neutralise(): `-ops@example.com` exported as `'-ops@example.com` reads back."""
    return value[1:] if value.startswith("'") and _needs_quote(value[1:]) else value


# --- Columns ------------------------------------------------------------------------------------

LOCALE_CODES = {"ja": "0", "en": "1"}
LOCALE_FROM_CODE = {"0": "ja", "1": "en", "ja": "ja", "en": "en"}
# MiiTel's bulk templates number the time zones (docs/csv.md).
TIME_ZONE_CODES = {
    "0": "Asia/Tokyo",
    "1": "Asia/Jayapura",
    "2": "Asia/Singapore",
    "3": "Asia/Manila",
    "4": "Asia/Makassar",
    "5": "Asia/Pontianak",
    "6": "Asia/Jakarta",
    "7": "America/New_York",
    "8": "America/Chicago",
    "9": "America/Phoenix",
    "10": "America/Denver",
    "11": "America/Los_Angeles",
    "12": "America/Anchorage",
    "13": "Pacific/Honolulu",
}
# Edit meeting access permission: 0 none, 1 host only, 2 all.
MEETING_ACCESS_CODES = {
    catalog.MEETING_ACCESS_NONE: "0",
    catalog.MEETING_ACCESS_HOST: "1",
    catalog.MEETING_ACCESS_ALL: "2",
}
MEETING_ACCESS_FROM_CODE = {v: k for k, v in MEETING_ACCESS_CODES.items()} | {
    k: k for k in MEETING_ACCESS_CODES
}


@dataclass(frozen=True)
class Column:
    key: str  # "login_id", "name", ..., or a service code
    labels: dict[str, str]  # {"en": ..., "ja": ...}
    aliases: tuple[str, ...] = ()  # other headers accepted on import

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["en"]

    def headers(self) -> set[str]:
        return {_header_key(h) for h in (*self.labels.values(), *self.aliases)}


def _header_key(text: str) -> str:
    return "".join(text.split()).casefold()


def _field(key: str, en: str, ja: str, *aliases: str) -> Column:
    return Column(key, {"en": en, "ja": ja}, aliases)


def _service(code: str, *aliases: str) -> Column:
    return Column(code, dict(catalog.get(code).labels), aliases)


FIXED_SERVICES = (catalog.MONITORING, catalog.PHONE, catalog.PHONE_MOBILE)

PASSWORD_COLUMN = _field("password", "Temporary password", "仮パスワード", "Password", "パスワード")


def columns_for(contract) -> list[Column]:
    """The export's columns, in the published order; Analytics features of the contract only."""
    cols = [
        _field("login_id", "Login ID", "ログイン ID", "ログインID"),
        _field("name", "User name", "ユーザー名", "Name"),
        _field("extension", "Extension number", "内線番号", "Extension"),
        _field("locale", "Locale", "言語", "Language"),
        _field("time_zone", "Time zone", "タイムゾーン", "Timezone"),
        _service(catalog.ADMIN, "Role", "ロール"),
        *(_service(code) for code in FIXED_SERVICES),
        *(_service(code) for code in catalog.ANALYTICS_CODES if contract.has_service(code)),
        _service(catalog.MEETING_ACCESS),
        _field("is_active", "Active", "有効", "Activate user", "ユーザーを有効化"),
    ]
    return cols


def import_columns(contract) -> list[Column]:
    """What an import recognises: every export column (all Analytics features, so that a file
    from before a contract change still reads) and the Temporary password column."""
    cols = columns_for(contract)
    present = {c.key for c in cols}
    extra = [_service(code) for code in catalog.ANALYTICS_CODES if code not in present]
    return [*cols, *extra, PASSWORD_COLUMN]


def header_row(columns: list[Column], language: str) -> list[str]:
    return [c.label(language) for c in columns]


_USER_KEYS = ("login_id", "name", "extension", "locale", "time_zone", catalog.ADMIN)
_TAIL_KEYS = [catalog.MEETING_ACCESS, "is_active"]


def flag_codes(columns: list[Column]) -> list[str]:
    """The service codes exported as 1/0 flags, in column order."""
    keys = [c.key for c in columns]
    if tuple(keys[: len(_USER_KEYS)]) != _USER_KEYS or keys[-2:] != _TAIL_KEYS:
        raise ValueError(f"unexpected column layout: {keys}")
    return keys[len(_USER_KEYS) : -2]


def row_maker(columns: list[Column]):
    """A function (login_id, name, extension, locale, time_zone, role, is_active, ...), flags
    -> the row's cells, where `flags` is "1"/"0" per flag_codes() then ":" and the Edit meeting
    access level. The layout is checked once here, so a row is a few list operations rather
    than one call per cell (100,000 users are 1.7 million cells).

    The cells that hold stored text (login ID, name, extension, time zone, an unknown locale)
    are neutralised here, each after a one-character test; every other cell is a code from a
    fixed set that cannot start a formula. So rows made here may go to
    encode_batches(..., neutralised=True)."""
    flag_codes(columns)
    locale_codes, access_codes = LOCALE_CODES, MEETING_ACCESS_CODES
    none = catalog.MEETING_ACCESS_NONE
    risky = _FIRST_CHARS

    def make(user: tuple, flags: str) -> list[str]:
        login_id, name, extension, locale, time_zone, role, active = user[:7]
        bits, _, level = flags.partition(":")
        extension = extension or ""
        locale = locale_codes.get(locale) or locale
        return [
            neutralise(login_id) if login_id[:1] in risky else login_id,
            neutralise(name) if name[:1] in risky else name,
            neutralise(extension) if extension[:1] in risky else extension,
            neutralise(locale) if locale[:1] in risky else locale,
            neutralise(time_zone) if time_zone[:1] in risky else time_zone,
            "1" if role == "admin" else "0",
            *bits,
            access_codes[level or none],
            "1" if active else "0",
        ]

    return make


def flags_maker(columns: list[Column]):
    """A function from a user's grants as selectors.with_grants() gives them ("code=level,…")
    to the `flags` string row_maker() reads. Substring tests on ",code=" (codes are never a
    prefix of one another once the "=" follows) beat building a dict per user."""
    needles = [f",{code}=" for code in flag_codes(columns)]
    access = f",{catalog.MEETING_ACCESS}="

    def flags(grant_codes: str | None) -> str:
        granted = "," + (grant_codes or "") + ","
        bits = "".join(["1" if needle in granted else "0" for needle in needles])
        at = granted.find(access)
        level = granted[at + len(access) : granted.index(",", at + 1)] if at >= 0 else ""
        return f"{bits}:{level}"

    return flags


# --- Writing ------------------------------------------------------------------------------------


def encode_rows(rows: Iterable[list[str]], encoding: str) -> Iterator[bytes]:
    """CSV bytes, one chunk per row: RFC 4180 quoting, CRLF line ends, the BOM (utf-8-sig)
    once at the very start, every cell formula-neutralised. Rows must already fit the
    encoding (check with fits_encoding first): an unencodable cell raises, never mangles."""
    return encode_batches(([row] for row in rows), encoding)


def encode_batches(
    batches: Iterable[list[list[str]]], encoding: str, *, neutralised: bool = False
) -> Iterator[bytes]:
    """encode_rows() for rows that come in batches: one chunk of bytes per batch.
    `neutralised`: the rows come from row_maker(), which neutralised the cells that need it
    (the header is this module's labels), so the per-cell test is skipped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    codec = CODECS[encoding]
    encoder = codecs.getincrementalencoder(codec)("strict")
    risky = _FIRST_CHARS
    for batch in batches:
        if neutralised:
            writer.writerows(batch)
        else:
            # Most cells cannot be a formula: test the first character before anything else.
            writer.writerows(
                [[neutralise(c) if c[:1] in risky else c for c in row] for row in batch]
            )
        chunk = encoder.encode(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        if chunk:
            yield chunk
    tail = encoder.encode("", final=True)
    if tail:
        yield tail


def batched(chunks: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Group small chunks into ~size-byte blocks for the response."""
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() >= size:
            yield buffer.getvalue()
            buffer = io.BytesIO()
    if buffer.tell():
        yield buffer.getvalue()


# --- Reading ------------------------------------------------------------------------------------


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, structure); the message says why."""


def decode_file(data: bytes, encoding: str) -> str:
    """Bytes -> text in the chosen encoding. A UTF-8 BOM is accepted (and dropped) whichever
    UTF-8 was chosen; bytes that do not decode are an error naming the line, never mojibake.
    A UTF-16 file is refused whichever encoding was chosen: its ASCII reads as valid UTF-8 or
    CP932 with a NUL after every character."""
    if encoding not in CODECS:
        raise CsvFormatError(_("Unknown encoding."))
    if _looks_like_utf16(data):
        raise CsvFormatError(
            _(
                "This looks like a UTF-16 file (Excel's “Unicode text”). Save it as “CSV UTF-8” "
                "or “CSV” (Shift_JIS) and upload it again."
            )
        )
    codec = CODECS[encoding]
    if codec.startswith("utf-8"):
        codec = "utf-8-sig"
    elif _looks_like_utf8(data):
        # UTF-8 Japanese often decodes as (wrong) CP932 without an error: refuse it rather than
        # write mojibake.
        raise CsvFormatError(
            _(
                "The file looks like UTF-8, not Shift_JIS (line %(line)d). Choose UTF-8 and "
                "upload it again."
            )
            % {"line": _first_non_ascii_line(data)}
        )
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvFormatError(
            _(
                "The file is not valid %(encoding)s (line %(line)d). Choose the encoding it was "
                "saved in and upload it again."
            )
            % {"encoding": ENCODINGS[encoding], "line": line}
        ) from None


# Enough of the start of a file to tell UTF-16 by its NULs.
_UTF16_SAMPLE_BYTES = 1024


def _looks_like_utf16(data: bytes) -> bool:
    """A UTF-16 BOM (Excel's "Unicode text"), or a NUL in the same byte of at least half the
    byte pairs at the start (UTF-16 without a BOM, `iconv -t UTF-16LE`: a CSV's header is
    ASCII, whose every character has a zero byte). A stray NUL or two is not UTF-16: read_rows
    reports it by line and column."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = data[:_UTF16_SAMPLE_BYTES]
    pairs = len(sample) // 2
    if pairs < 2:
        return False
    nul_first, nul_second = sample[0 : pairs * 2 : 2].count(0), sample[1 : pairs * 2 : 2].count(0)
    return max(nul_first, nul_second) * 2 >= pairs


def _looks_like_utf8(data: bytes) -> bool:
    if data.startswith(codecs.BOM_UTF8):
        return True
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _first_non_ascii_line(data: bytes) -> int:
    index = next((i for i, byte in enumerate(data) if byte > 0x7F), 0)
    return data[:index].count(b"\n") + 1


def read_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each record, with quoted commas and newlines, CRLF or LF, and
    blank lines skipped. The line number is where the record starts.

    A NUL character is refused, naming its line and column: no cell may hold one (PostgreSQL
    stores none in a text or JSON column), and a file that has one was not saved as CSV."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    check_nul = "\x00" in text  # one scan of the text; the cells only when it found one
    start = 1
    try:
        for row in reader:
            if check_nul:
                _refuse_nul(row, start)
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise CsvFormatError(
            _("The file is not valid CSV near line %(line)d: %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from None


def _refuse_nul(cells: list[str], start: int) -> None:
    line = start  # quoted cells may span lines: count them up to the NUL
    for index, cell in enumerate(cells):
        at = cell.find("\x00")
        if at < 0:
            line += cell.count("\n")
            continue
        raise CsvFormatError(
            _(
                "Line %(line)d, column %(column)d holds a NUL character, which no cell may "
                "contain. Save the file as “CSV UTF-8” or “CSV” (Shift_JIS) and upload it again."
            )
            % {"line": line + cell.count("\n", 0, at), "column": index + 1}
        )


def match_header(cells: list[str], columns: list[Column]) -> tuple[dict[int, Column], list[str]]:
    """Map header cells to known columns ({index: column}); return unknown headers too."""
    by_header: dict[str, Column] = {}
    for col in columns:
        for header in col.headers():
            by_header.setdefault(header, col)
    mapping: dict[int, Column] = {}
    unknown: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        col = by_header.get(_header_key(restore(cell)))
        if col is None or col.key in seen:
            if cell.strip():
                unknown.append(cell)
            continue
        seen.add(col.key)
        mapping[index] = col
    return mapping, unknown
