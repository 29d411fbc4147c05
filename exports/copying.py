"""The export on PostgreSQL: `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`, writing the same
bytes as the Python path (exporting.export_batches through csv_format), with the cells made by
PostgreSQL and Python only passing blocks of bytes on.

The statement is built from the export's queryset: its SELECT (the User List's WHERE and
ORDER BY, and each user's grants as bits from one aggregate over their grant rows) becomes a
derived table, and the outer SELECT makes the cells from its columns exactly as
csv_format.row_maker() and flags_maker() make them. A subquery with an ORDER BY is planned on its
own (PostgreSQL never flattens it into the outer query), and the outer SELECT, a projection over
that one subquery, passes its rows on in that order; the grants aggregate runs once per user,
where a flattened query would repeat it for each flag.

Where PostgreSQL's CSV differs from Python's csv.writer (QUOTE_MINIMAL, CRLF line ends):
- it quotes an empty string (`""`, to tell it from NULL): every cell that can be empty is NULL
  instead, which COPY writes as nothing, as csv.writer writes an empty string;
- it quotes `\\.` alone only when the COPY has one column (the end-of-data marker); this one
  has at least eleven;
- rows end with LF: a block whose only LFs are the rows' ends has them rewritten to CRLF at once;
  in a block with a line break inside a quoted cell (no channel stores one; the database does
  not forbid it), the row ends are found by counting quotes.
Otherwise the two agree: a cell is quoted when it holds a comma, a double quote, CR or LF, and a
double quote inside it is doubled.

The encoding is done in the stream: PostgreSQL sends UTF-8 (the connection's client encoding),
which is the file for utf-8 and utf-8-sig (whose BOM comes once, with the header); Shift_JIS
blocks are re-encoded with Python's CP932 codec, the one the Python path uses (PostgreSQL's own
SJIS conversion maps a few characters differently).
"""

import codecs
import functools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Expression,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf, Ord
from django.db.models.lookups import Exact, GreaterThan, In
from django.db.models.sql import Query

from accounts.models import Organization, User
from permissions import catalog
from permissions.models import ServiceGrant

from . import csv_format

# The derived table's columns: the user's fields the file shows, then the grants as bits.
USER_COLUMNS = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")
GRANTS = "grant_bits"
# Rows per block of bytes passed on (about 100 bytes each).
BLOCK_ROWS = 1000
# A value whose first character is above all of these (neither an apostrophe nor a risky one)
# is written as it is: one integer comparison decides almost every cell. (ord() refuses a risky
# start of more than one character, which this test could not express.)
_RISKY_CODES = sorted(ord(c) for c in csv_format.RISKY_STARTS)
_SAFE_ABOVE = max(*_RISKY_CODES, ord("'"))


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


class _BitOr(Aggregate):
    function = "BIT_OR"
    output_field = IntegerField()


def _text(value: str) -> Value:
    return Value(value, output_field=TextField())


@dataclass(frozen=True)
class _Bits:
    """Where a user's grants sit in one integer: a bit per flag column (flag_codes() order),
    then the Edit meeting access level's position in LEVELS, then a bit for a grant that
    flags_maker() would not read as written (see grants_mask())."""

    flags: tuple[str, ...]
    LEVELS = tuple(
        level for level in csv_format.MEETING_ACCESS_CODES if level != catalog.MEETING_ACCESS_NONE
    )

    def flag(self, index: int) -> int:
        return 1 << index

    def level(self, level: str) -> int:
        return (self.LEVELS.index(level) + 1) << len(self.flags)

    @property
    def levels(self) -> int:
        return 3 << len(self.flags)

    @property
    def unreadable(self) -> int:
        return 1 << (len(self.flags) + 2)


def grants_mask(bits: _Bits) -> Subquery:
    """The user's grants as _Bits, in one aggregate over their grant rows (the Python path
    reads the same rows as "code=level,…" text). A grant of a service that is not a column adds
    nothing, as in flags_maker(). No channel writes a level outside the catalog's; one stored
    all the same, or one holding a comma (which would split flags_maker()'s text), sets the
    unreadable bit, and the COPY fails on it."""
    levelled = catalog.MEETING_ACCESS
    none = catalog.MEETING_ACCESS_NONE
    value = Case(
        When(level__contains=",", then=bits.unreadable),
        *(When(service=code, then=bits.flag(i)) for i, code in enumerate(bits.flags)),
        When(service=levelled, level__in=("", none), then=0),
        *(When(service=levelled, level=level, then=bits.level(level)) for level in bits.LEVELS),
        When(service=levelled, then=bits.unreadable),
        default=0,
        output_field=IntegerField(),
    )
    return Subquery(
        ServiceGrant.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(mask=_BitOr(value))
        .values("mask")
    )


def _neutralised(cell: Expression) -> Case:
    """csv_format.neutralise(), NULL when empty: an apostrophe before a value that starts, after
    any leading apostrophes, with one of RISKY_STARTS (each a single character)."""
    return Case(
        When(GreaterThan(Ord(cell), _SAFE_ABOVE), then=cell),
        When(In(Ord(_LTrim(cell, _text("'"))), _RISKY_CODES), then=_Join(_text("'"), cell)),
        default=NullIf(cell, _text("")),
        output_field=TextField(),
    )


def _code(cell: Expression, codes: dict[str, str], default: Expression) -> Case:
    return Case(
        *(When(Exact(cell, value), then=_text(code)) for value, code in codes.items()),
        default=default,
        output_field=TextField(),
    )


def _cells(bits: _Bits) -> list[Expression]:
    """The file's cells over the derived table's columns, in row_maker()'s order."""
    login_id, name, extension, locale, time_zone, role = (
        _Derived(column) for column in USER_COLUMNS[:6]
    )
    active = _Derived("is_active", BooleanField())
    grants = _Derived(GRANTS, IntegerField())
    zero, one = _text("0"), _text("1")
    access_codes = csv_format.MEETING_ACCESS_CODES
    # The unreadable bit fails the COPY with a cast of a message naming the user.
    unreadable = Cast(
        Cast(_Join(_text("unreadable service grant of "), login_id), IntegerField()),
        TextField(),
    )
    return [
        _neutralised(login_id),
        _neutralised(name),
        _neutralised(extension),
        _code(locale, csv_format.LOCALE_CODES, _neutralised(locale)),
        _neutralised(time_zone),
        _code(role, {User.Role.ADMIN: "1"}, zero),
        *(
            Case(When(GreaterThan(grants.bitand(bits.flag(i)), 0), then=one), default=zero)
            for i in range(len(bits.flags))
        ),
        Case(
            When(GreaterThan(grants.bitand(bits.unreadable), 0), then=unreadable),
            *(
                When(Exact(grants.bitand(bits.levels), bits.level(level)), then=_text(code))
                for level, code in access_codes.items()
                if level in bits.LEVELS
            ),
            default=_text(access_codes[catalog.MEETING_ACCESS_NONE]),
            output_field=TextField(),
        ),
        Case(When(active, then=one), default=zero),
    ]


def copy_statement(*, qs: QuerySet, columns: list[csv_format.Column]) -> tuple[str, tuple]:
    """The COPY statement and its parameters: the cells of `columns` for the users of `qs`, in
    its order."""
    bits = _Bits(tuple(csv_format.flag_codes(columns)))
    inner = qs.annotate(**{GRANTS: Coalesce(grants_mask(bits), 0)}).values_list(
        *USER_COLUMNS, GRANTS
    )
    inner_sql, inner_params = inner.query.get_compiler(connection=connection).as_sql()
    query = Query(None)
    compiler = query.get_compiler(connection=connection)
    cells, params = [], []
    for cell in _cells(bits):
        sql, cell_params = compiler.compile(cell.resolve_expression(query))
        cells.append(sql)
        params.extend(cell_params)
    names = ", ".join(connection.ops.quote_name(c) for c in (*USER_COLUMNS, GRANTS))
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


def _crlf(block: bytes, rows: int) -> bytes:
    """`rows` rows as COPY sent them (each ending with LF), ending with CRLF."""
    if block.count(b"\n") == rows:
        return block.replace(b"\n", b"\r\n")
    # A quoted cell holds a line break, which csv.writer writes as it is. A row ends at an LF
    # outside quotes: after an even number of double quotes since the block's start (COPY
    # quotes every cell that holds one, and doubles it inside).
    out = bytearray()
    quoted = False
    for line in block.split(b"\n")[:-1]:
        quoted ^= line.count(b'"') % 2 == 1
        out += line
        out += b"\n" if quoted else b"\r\n"
    return bytes(out)


def copy_bytes(
    *, organization: Organization, qs: QuerySet, language: str, encoding: str
) -> Iterator[bytes]:
    """The file in blocks: the header (with the BOM for utf-8-sig), then BLOCK_ROWS rows at a
    time, as COPY sends them (one row per read)."""
    columns = csv_format.columns_for(organization.contract)
    sql, params = copy_statement(qs=qs, columns=columns)
    header = [csv_format.header_row(columns, language)]
    yield b"".join(csv_format.encode_batches([header], encoding, neutralised=True))
    cp932 = csv_format.CODECS[encoding] == "cp932"
    encode = codecs.getincrementalencoder("cp932")("strict").encode
    block, rows = bytearray(), 0
    with _copy_out(sql, params) as copy:
        # Each row is copied into the block and let go at once: holding the rows themselves
        # until the block is full costs more (a garbage-collected object per row).
        for row in copy:
            block += row
            rows += 1
            if rows == BLOCK_ROWS:
                data = _crlf(bytes(block), rows)
                yield encode(data.decode("utf-8")) if cp932 else data
                block.clear()
                rows = 0
    if rows:
        data = _crlf(bytes(block), rows)
        yield encode(data.decode("utf-8")) if cp932 else data
    if cp932 and (tail := encode("", final=True)):
        yield tail
