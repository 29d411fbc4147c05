"""Lists of values for `field__in` lookups, in as few statements as the database allows.

PostgreSQL takes a whole CSV import's login IDs (20,000) in one statement, where 1,000 at a time
cost 20 round trips; SQLite has a limit on the parameters of one statement."""

from collections.abc import Iterator, Sequence
from itertools import islice

from django.db import connection

# More than any one batch has (an import's rows): one statement on PostgreSQL.
LARGEST = 20_000


def lookup_chunks(values: Sequence) -> Iterator[list]:
    limit = connection.features.max_query_params or LARGEST
    size = max(1, min(LARGEST, limit - 10))  # room for the statement's other parameters
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk
