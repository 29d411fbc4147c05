"""The user list as CSV: the same search and filters as the User List, each user's grants in
the same query (no query per row), streamed. On PostgreSQL the rows come from COPY (copying.py);
elsewhere from a server-side cursor through csv_format. Both write the same bytes."""

import itertools
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Literal

from django.db import connection, transaction
from django.db.models import QuerySet

from accounts.models import Organization
from users import selectors

from . import copying, csv_format

EXPORT_FIELDS = ("login_id", "name", "extension", "locale", "time_zone", "role", "is_active")
CHUNK_SIZE = 2000
# How many users a refused Shift_JIS export names (the message says how many more).
MAX_REPORTED = 50


def export_queryset(*, organization: Organization, params: dict) -> QuerySet:
    return selectors.user_list_for(organization=organization, params=params)


def unencodable_users(qs: QuerySet, encoding: str) -> tuple[list[dict], int]:
    """Users whose name the encoding cannot hold unchanged: (first MAX_REPORTED, total).
    Checked before the first byte is sent. Login IDs and extensions are ASCII by rule."""
    if encoding not in ("shift_jis",):
        return [], 0
    found: list[dict] = []
    total = 0
    rows = qs.values_list("login_id", "name").iterator(chunk_size=CHUNK_SIZE)
    for chunk in itertools.batched(rows, CHUNK_SIZE):
        # One test per chunk: CP932 encodes and decodes character by character, so the names
        # joined by a newline survive the round trip exactly when each name does.
        if csv_format.fits_encoding("\n".join([name for _, name in chunk]), encoding):
            continue
        for login_id, name in chunk:
            if name.isascii() or csv_format.fits_encoding(name, encoding):
                continue
            total += 1
            if len(found) < MAX_REPORTED:
                bad = "".join(
                    dict.fromkeys(ch for ch in name if not csv_format.fits_encoding(ch, encoding))
                )
                found.append({"login_id": login_id, "name": name, "characters": bad})
    return found, total


def export_batches(
    *, organization: Organization, qs: QuerySet, language: str
) -> Iterator[list[list[str]]]:
    """The header, then the users in batches of CHUNK_SIZE, from one server-side cursor; each
    user's grants come in the same row (a string_agg subquery), never from a query per user."""
    columns = csv_format.columns_for(organization.contract)
    flags = csv_format.flags_maker(columns)
    make_row = csv_format.row_maker(columns)
    yield [csv_format.header_row(columns, language)]
    rows = selectors.with_grants(qs).values_list(*EXPORT_FIELDS, "grant_codes")
    # On PostgreSQL, inside a transaction Django's server-side cursor streams; outside one
    # (autocommit) PostgreSQL builds the whole result of a WITH HOLD cursor before the first
    # row. (SQLite has no server-side cursors, and its transactions here take the write lock.)
    streaming = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
    with streaming:
        batch: list[list[str]] = []
        for row in rows.iterator(chunk_size=CHUNK_SIZE):
            batch.append(make_row(row, flags(row[-1])))
            if len(batch) == CHUNK_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch


def export_bytes(
    *,
    organization: Organization,
    qs: QuerySet,
    language: str,
    encoding: str,
    engine: Literal["copy", "python"] | None = None,
) -> Iterator[bytes]:
    """The file, in blocks of bytes. `engine`: COPY (PostgreSQL only) or the Python path; by
    default COPY wherever the database is PostgreSQL."""
    if engine is None:
        engine = "copy" if connection.vendor == "postgresql" else "python"
    if engine == "copy":
        return copying.copy_bytes(
            organization=organization, qs=qs, language=language, encoding=encoding
        )
    return csv_format.batched(
        csv_format.encode_batches(
            export_batches(organization=organization, qs=qs, language=language),
            encoding,
            neutralised=True,  # row_maker() neutralised the cells that hold stored text
        )
    )
