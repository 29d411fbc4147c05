"""Lists of values for `field__in` lookups, in as few statements as the database allows.

PostgreSQL takes a whole CSV import's login IDs (20,000) in one statement, where 1,000 at a time
cost 20 round trips; SQLite has a limit on the parameters of one statement."""

from collections.abc import Iterator, Sequence
from itertools import islice

from django.db import connection
from django.db.models import Field, ForeignObject, Lookup

# More than any one batch has (an import's rows): one statement on PostgreSQL.
LARGEST = 20_000


def lookup_chunks(values: Sequence) -> Iterator[list]:
    limit = connection.features.max_query_params or LARGEST
    size = max(1, min(LARGEST, limit - 10))  # room for the statement's other parameters
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


class AnyOf(Lookup):
    """`field__any_of=[…]`: IN over a list of values, sent on PostgreSQL as one array parameter
    (`= ANY(%s)`) rather than one placeholder each. psycopg reads a statement's placeholders
    one by one on the client: a bulk action's 10,000 IDs in IN lists cost more to send than
    the database took to find the rows (docs/performance.md). Elsewhere, a plain IN."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            # Like Django's IN with an empty list: matches nothing.
            return "1 = 0", list(lhs_params)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


# Fields, and foreign keys (whose lookups Django keeps apart from other fields').
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
