"""Page-number pagination that never counts a large tenant in full.

The count stops at COUNT_CAP + 1 rows (`SELECT count(*) FROM (SELECT 1 ... LIMIT 10001)`), so a
100,000-user organization costs the same as a 10,000-user one and the page shows "10,000+"."""

from dataclasses import dataclass

from django.db.models import QuerySet

COUNT_CAP = 10_000
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    number: int
    per_page: int
    total: int
    total_capped: bool

    @property
    def num_pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages or (self.total_capped and len(self.rows) > 0)

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)

    def page_links(self) -> list[int | None]:
        """Page numbers to link, with None where the list is elided: 1 … 4 5 [6] 7 8 … 20."""
        last = self.num_pages
        wanted = {1, 2, last - 1, last, *range(self.number - 2, self.number + 3)}
        numbers = sorted(n for n in wanted if 1 <= n <= last)
        links: list[int | None] = []
        for n in numbers:
            if links and links[-1] is not None and n - links[-1] > 1:
                links.append(None)
            links.append(n)
        return links


def capped_count(qs: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    n = qs.order_by().values("pk")[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def paginate(qs: QuerySet, *, page: int, per_page: int) -> Page:
    total, capped = capped_count(qs)
    last = max((total + per_page - 1) // per_page, 1)
    if not capped:
        page = min(page, last)
    page = max(page, 1)
    offset = (page - 1) * per_page
    rows = list(qs[offset : offset + per_page])
    return Page(rows=rows, number=page, per_page=per_page, total=total, total_capped=capped)
