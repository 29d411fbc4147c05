"""The export on PostgreSQL: `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`, writing the same
bytes as the Python path (exporting.export_batches through csv_format), with the cells made by
PostgreSQL and Python only passing blocks of bytes on.

The statement is built from the export's queryset: its SELECT (the User List's WHERE and
ORDER BY, each user's grants in the same row) becomes a derived table, and the outer SELECT
makes the cells from its columns exactly as csv_format.row_maker() and flags_maker() make them.
A subquery with an ORDER BY is planned on its own (PostgreSQL never flattens it into the outer
query), and the outer SELECT, a projection over that one subquery, passes its rows on in that
order; the grants column is computed once per row, where a flattened query would repeat the
grants subquery for each flag.

Where PostgreSQL's CSV differs from Python's csv.writer (QUOTE_MINIMAL, CRLF line ends):
- it quotes an empty string (`""`, to tell it from NULL): every cell that can be empty is NULL
  instead, which COPY writes as nothing, as csv.writer writes an empty string;
- it quotes `\\.` alone only when the COPY has one column (the end-of-data marker); this one
  has at least eleven;
- rows end with LF: a block whose only LFs are the rows' ends has them rewritten to CRLF at once;
  a block with a line break inside a quoted cell has its rows' ends rewritten one by one.
Otherwise the two agree: a cell is quoted when it holds a comma, a double quote, CR or LF, and a
double quote inside it is doubled.

The encoding is done in the stream: PostgreSQL sends UTF-8 (the connection's client encoding),
which is the file for utf-8 and utf-8-sig (whose BOM comes once, with the header); Shift_JIS
blocks are re-encoded with Python's CP932 codec, the one the Python path uses (PostgreSQL's own
SJIS conversion maps a few characters differently).
"""

import codecs
import functools
import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    F,
    Func,
    IntegerField,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Left, NullIf, StrIndex
from django.db.models.lookups import Exact, GreaterThan, In
from django.db.models.sql import Query

from accounts.models import Organization
from permissions import catalog
from users import selectors

from . import csv_format

# The derived table's columns: the user's fields the file shows, then the grants as
# ",code=level,code=level," (the string flags_maker() searches).
USER_COLUMNS = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")
GRANTED = "granted"
# Rows per block of bytes passed on (about 100 bytes each).
BLOCK_ROWS = 1000


class _Derived(Expression):
    """A column of the derived table `u`, the export's queryset."""

    def __init__(self, name: str, output_field=None):
        super().__init__(output_field=output_field or TextField())
        self.name = name

    def as_sql(self, compiler, connection):
        return f"u.{connection.ops.quote_name(self.name)}", []


class _LTrim(Func):
    """ltrim(text, characters), Python's str.lstrip(characters)."""

    function = "LTRIM"
    arity = 2
    output_field = TextField()


class _Join(Func):
    """a || b || …: Concat() without its COALESCE around every part (no part here is NULL)."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = TextField()


def _text(value: str) -> Value:
    return Value(value, output_field=TextField())


def _contains(haystack: Expression, needle: str) -> GreaterThan:
    return GreaterThan(StrIndex(haystack, _text(needle)), 0)


def _neutralised(cell: Expression) -> Case:
    """csv_format.neutralise(), NULL when empty: an apostrophe before a value that starts, after
    any leading apostrophes, with one of RISKY_STARTS (each a single character)."""
    first = Left(_LTrim(cell, _text("'")), 1)
    return Case(
        When(In(first, list(csv_format.RISKY_STARTS)), then=_Join(_text("'"), cell)),
        default=NullIf(cell, _text("")),
        output_field=TextField(),
    )


def _code(cell: Expression, codes: dict[str, str], default: Expression) -> Case:
    return Case(
        *(When(Exact(cell, value), then=_text(code)) for value, code in codes.items()),
        default=default,
        output_field=TextField(),
    )


def _meeting_access(granted: Expression) -> Case:
    """The Edit meeting access level as its code. flags_maker() reads the level between
    ",meeting_access=" and the next comma and row_maker() maps it (none when there is no grant
    or the level is empty). An unknown level makes row_maker() raise; here a cast that names
    it fails the COPY, rather than a cell the import would misread."""
    prefix = f",{catalog.MEETING_ACCESS}="
    levels = {**csv_format.MEETING_ACCESS_CODES, "": csv_format.MEETING_ACCESS_CODES["none"]}
    unknown = Cast(
        Cast(_Join(_text("unknown meeting access level in "), granted), IntegerField()),
        TextField(),
    )
    return Case(
        *(
            When(_contains(granted, f"{prefix}{level},"), then=_text(code))
            for level, code in levels.items()
        ),
        When(_contains(granted, prefix), then=unknown),
        default=_text(levels[""]),
        output_field=TextField(),
    )


def _cells(columns: list[csv_format.Column]) -> list[Expression]:
    """The file's cells over the derived table's columns, in row_maker()'s order."""
    login_id, name, extension, locale, time_zone, role = (
        _Derived(column) for column in USER_COLUMNS[:6]
    )
    active = _Derived("is_active", BooleanField())
    granted = _Derived(GRANTED)
    zero, one = _text("0"), _text("1")
    return [
        _neutralised(login_id),
        _neutralised(name),
        _neutralised(extension),
        _code(locale, csv_format.LOCALE_CODES, _neutralised(locale)),
        _neutralised(time_zone),
        _code(role, {"admin": "1"}, zero),
        *(
            Case(When(_contains(granted, f",{code}="), then=one), default=zero)
            for code in csv_format.flag_codes(columns)
        ),
        _meeting_access(granted),
        Case(When(active, then=one), default=zero),
    ]


def copy_statement(*, qs: QuerySet, columns: list[csv_format.Column]) -> tuple[str, tuple]:
    """The COPY statement and its parameters: the cells of `columns` for the users of `qs`, in
    its order."""
    inner = (
        selectors.with_grants(qs)
        .annotate(**{GRANTED: _Join(_text(","), Coalesce(F("grant_codes"), _text("")), _text(","))})
        .values_list(*USER_COLUMNS, GRANTED)
    )
    inner_sql, inner_params = inner.query.get_compiler(connection=connection).as_sql()
    query = Query(None)
    compiler = query.get_compiler(connection=connection)
    cells, params = [], []
    for cell in _cells(columns):
        sql, cell_params = compiler.compile(cell.resolve_expression(query))
        cells.append(sql)
        params.extend(cell_params)
    names = ", ".join(connection.ops.quote_name(c) for c in (*USER_COLUMNS, GRANTED))
    # Every part is SQL Django compiled (values are parameters) or a quoted column name.
    select = f"SELECT {', '.join(cells)} FROM ({inner_sql}) AS u ({names})"  # noqa: S608
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", (*params, *inner_params)


@contextmanager
def _copy_out(sql: str, params: tuple):
    """cursor.copy() through what Django runs around cursor.execute(): the execute wrappers
    (connection.execute_wrapper) and, when queries are logged, the query log."""
    connection.validate_no_broken_transaction()
    with connection.cursor() as cursor, ExitStack() as stack:

        def start(sql, params, many, context):
            with connection.wrap_database_errors:
                return stack.enter_context(cursor.cursor.copy(sql, params))

        executor = start
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        logged = cursor.debug_sql(sql, params) if connection.queries_logged else nullcontext()
        with logged:
            copy = executor(sql, params, False, {"connection": connection, "cursor": cursor})
        with connection.wrap_database_errors:
            yield copy


def _crlf(rows: list) -> bytes:
    """Rows as COPY sent them (each ending with LF), ending with CRLF."""
    block = b"".join(rows)
    if block.count(b"\n") == len(rows):
        return block.replace(b"\n", b"\r\n")
    # A quoted cell holds a line break, which csv.writer writes as it is.
    return b"".join([bytes(row[:-1]) + b"\r\n" for row in rows])


def copy_bytes(
    *, organization: Organization, qs: QuerySet, language: str, encoding: str
) -> Iterator[bytes]:
    """The file in blocks: the header (with the BOM for utf-8-sig), then BLOCK_ROWS rows at a
    time, as COPY sends them."""
    columns = csv_format.columns_for(organization.contract)
    sql, params = copy_statement(qs=qs, columns=columns)
    header = [csv_format.header_row(columns, language)]
    yield b"".join(csv_format.encode_batches([header], encoding, neutralised=True))
    cp932 = csv_format.CODECS[encoding] == "cp932"
    encode = codecs.getincrementalencoder("cp932")("strict").encode
    with _copy_out(sql, params) as copy:
        rows = iter(copy.read, b"")
        while block := list(itertools.islice(rows, BLOCK_ROWS)):
            data = _crlf(block)
            yield encode(data.decode("utf-8")) if cp932 else data
    if cp932 and (tail := encode("", final=True)):
        yield tail
