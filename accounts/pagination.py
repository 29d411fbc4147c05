"""Pagination that stays fast on a 100,000-user tenant.

- The count stops at COUNT_CAP + 1 rows (`SELECT count(*) FROM (SELECT 1 ... LIMIT 10001)`), so
  a huge organization costs the same as a 10,000-user one and the page shows "10,000+".
- Numbered pages (OFFSET) are offered inside the counted range only.
- "Next" and "Previous" use keyset cursors where the sort allows it: `(name, id) > (x, y)`
  starts an index range scan at the right row, so page 2,000 costs what page 1 costs, where
  OFFSET would read and throw away every row before it (docs/performance.md: 34 ms vs 0.3 ms).
- A cursor is signed for its columns and direction: under any other sort it is ignored (page 1).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core import signing
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

COUNT_CAP = 10_000
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
_SALT = "accounts.pagination.cursor"


@dataclass
class Page:
    rows: list
    number: int | None  # None on a cursor page beyond the counted range
    per_page: int
    total: int
    total_capped: bool
    next_cursor: str | None = None
    prev_cursor: str | None = None
    has_more: bool = False

    @property
    def num_pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def cursor_mode(self) -> bool:
        return self.number is None

    @property
    def has_previous(self) -> bool:
        return self.prev_cursor is not None or (self.number or 1) > 1

    @property
    def has_next(self) -> bool:
        return self.has_more

    @property
    def start_index(self) -> int:
        if not self.rows or self.number is None:
            return 0
        return (self.number - 1) * self.per_page + 1

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0

    def page_links(self) -> list[int | None]:
        """Page numbers to link, None where elided: 1 … 4 5 [6] 7 8 … 20. Within the counted
        range only."""
        if self.number is None:
            return []
        last = self.num_pages
        wanted = {1, 2, last - 1, last, *range(self.number - 2, self.number + 3)}
        numbers = sorted(n for n in wanted if 1 <= n <= last)
        links: list[int | None] = []
        for n in numbers:
            if links and links[-1] is not None and n - links[-1] > 1:
                links.append(None)
            links.append(n)
        return links


def capped_count(qs: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    cap = COUNT_CAP if cap is None else cap
    n = qs.order_by().values("pk")[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def _cursor_salt(columns: tuple[str, ...], descending: bool) -> str:
    # A cursor holds the last row's values of `columns`: read under another sort they would be
    # compared with other columns (a role compared with a service count is a 500 on
    # PostgreSQL), or start the page at a meaningless place. The salt names the columns and the
    # direction, so a cursor signed for one list order fails its signature under any other.
    return f"{_SALT}:{','.join(columns)}:{'desc' if descending else 'asc'}"


def encode_cursor(values: list, *, columns: tuple[str, ...], descending: bool = False) -> str:
    return signing.dumps(values, salt=_cursor_salt(columns, descending), compress=True)


def decode_cursor(
    token: str | None, *, columns: tuple[str, ...], descending: bool = False
) -> list | None:
    """The values of a cursor made by encode_cursor() for these columns and this direction;
    None for anything else (tampered, or made for another sort or direction)."""
    if not token:
        return None
    try:
        values = signing.loads(token, salt=_cursor_salt(columns, descending))
    except signing.BadSignature:
        return None
    if not isinstance(values, list) or len(values) != len(columns):
        return None
    return values


def page_number(value) -> int:
    """A ?page= value as a page number: 1 for anything that is not one (paginate() keeps it
    within the pages there are)."""
    try:
        return max(1, min(int(value), MAX_PAGE))
    except (TypeError, ValueError):
        return 1


MAX_PAGE = 10**6


def paginate(
    qs: QuerySet,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
    keyset: tuple[str, ...] | None = None,
    descending: bool = False,
    after: str | None = None,
    before: str | None = None,
    total: int | None = None,
) -> Page:
    """`qs` must already be ordered by `keyset` (+ "id"), in `descending` order if set.
    With `keyset` (non-null columns, all in the same direction), Next/Previous are cursors.
    `total`, when the caller knows it (an unfiltered list: the seat counter), saves the count."""
    if total is None:
        total, capped = capped_count(qs)
    else:
        capped = False
    columns = (*keyset, "id") if keyset else None
    after_values = decode_cursor(after, columns=columns, descending=descending) if columns else None
    before_values = (
        decode_cursor(before, columns=columns, descending=descending) if columns else None
    )

    if after_values is not None or before_values is not None:
        return _cursor_page(
            qs, columns, descending, per_page, total, capped, after_values, before_values
        )

    last = max((total + per_page - 1) // per_page, 1)
    page = max(min(page, last), 1)
    offset = (page - 1) * per_page
    rows = list(qs[offset : offset + per_page + 1])
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    result = Page(rows=rows, number=page, per_page=per_page, total=total, total_capped=capped)
    result.has_more = has_more
    if columns and rows and has_more:
        result.next_cursor = encode_cursor(
            _values(rows[-1], columns), columns=columns, descending=descending
        )
    return result


def _values(row, columns) -> list:
    return [getattr(row, c) for c in columns]


def _cursor_page(qs, columns, descending, per_page, total, capped, after_values, before_values):
    lhs = Tuple(*(F(c) for c in columns))
    if after_values is not None:
        lookup = TupleLessThan if descending else TupleGreaterThan
        rows = list(qs.filter(lookup(lhs, tuple(after_values)))[: per_page + 1])
        has_more = len(rows) > per_page
        rows = rows[:per_page]
        has_prev = True
    else:
        lookup = TupleGreaterThan if descending else TupleLessThan
        reversed_qs = qs.filter(lookup(lhs, tuple(before_values))).reverse()
        rows = list(reversed_qs[: per_page + 1])
        has_prev = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        has_more = True
    page = Page(rows=rows, number=None, per_page=per_page, total=total, total_capped=capped)
    page.has_more = has_more and bool(rows)
    if rows and page.has_more:
        page.next_cursor = encode_cursor(
            _values(rows[-1], columns), columns=columns, descending=descending
        )
    if rows and has_prev:
        page.prev_cursor = encode_cursor(
            _values(rows[0], columns), columns=columns, descending=descending
        )
    return page


def page_links(page: Page, url: Callable[[int], str]) -> dict:
    """A page's links for templates/includes/pagination.html: the numbered ones (None where
    elided), and Previous and Next by number; `url(n)` makes the URL of page n."""
    return {
        "page": page,
        "page_urls": [(n, url(n) if n else None) for n in page.page_links()],
        "prev_url": url((page.number or 2) - 1),
        "next_url": url((page.number or 1) + 1),
    }
