"""Reads. Every selector takes `organization=` as a required keyword: a query that forgets the
tenant fails at the call, not in production."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    F,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organization, User
from mfa import selectors as mfa_selectors
from permissions import catalog
from permissions.models import SeatCount, ServiceGrant

# sort key -> the columns it orders by (id last, so ties are stable)
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "login_id": ("login_id_key",),
    "role": ("role", "name"),
    "status": ("-is_active", "name"),
    "services": ("service_count", "name"),
    "extension": ("extension", "name"),
    "last_login": ("last_login", "name"),
}


NULLABLE_SORT_COLUMNS = frozenset({"last_login"})

# Sorts whose columns are never NULL and run in one direction: these page by keyset cursors.
KEYSET_SORTS: dict[str, tuple[str, ...]] = {
    sort: columns
    for sort, columns in SORTS.items()
    if not any(c.startswith("-") or c in NULLABLE_SORT_COLUMNS for c in columns)
}


def _grants_column() -> RawSQL:
    """All of a row's grants as one "code=level,code=level" string, in the page query itself:
    a correlated subquery per row (an index lookup each). Written as SQL because the ORM's
    expression tree for it cost more to build, per request, than running it (docs/performance.md);
    the SQL is constant."""
    aggregate = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    grants = ServiceGrant._meta.db_table
    # Constant SQL (table names from the models, no input): reviewed in
    # tests/security/test_url_registry.py ALLOWLIST.
    return RawSQL(  # noqa: S611
        f"(SELECT {aggregate}(g.service || '=' || g.level, ',') FROM {grants} g "  # noqa: S608
        f"WHERE g.user_id = {User._meta.db_table}.id)",
        (),
        output_field=CharField(),
    )


# The idle filter: no sign-in for this many days (a user who never signed in counts from the
# day they were added), or never signed in at all.
IDLE_DAYS = (30, 60, 90)
NEVER = "never"


def idle_filter(idle: str, *, now=None) -> Q | None:
    """The condition of an idle filter value ("30", "60", "90" or "never"), None for others."""
    if idle == NEVER:
        return Q(last_login__isnull=True)
    if idle in {str(days) for days in IDLE_DAYS}:
        since = (now or timezone.now()) - timedelta(days=int(idle))
        # The last sign-in, or the day added for one who never signed in: one expression, the
        # one the index users_org_idle_idx holds (a range scan when few users are idle).
        return Q(idle_since__lt=since)
    return None


def idle_since() -> Coalesce:
    return Coalesce("last_login", "created_at")


def user_list(
    *,
    organization: Organization,
    search: str = "",
    role: str = "",
    status: str = "",
    service: str = "",
    idle: str = "",
    sort: str = "name",
    descending: bool = False,
) -> QuerySet[User]:
    qs = User.objects.filter(organization=organization)
    if (idle_q := idle_filter(idle)) is not None:
        qs = qs.alias(idle_since=idle_since()).filter(idle_q)
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(login_id_key__contains=search.lower())
            | Q(extension__contains=search)
        )
    if role in User.Role.values:
        qs = qs.filter(role=role)
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    if service == catalog.ADMIN:
        qs = qs.filter(role=User.Role.ADMIN)
    elif service in catalog.GRANTABLE_CODES:
        qs = qs.filter(
            pk__in=ServiceGrant.objects.filter(organization=organization, service=service)
            .exclude(level="none")
            .values("user_id")
        )
    return order_users(qs, sort=sort, descending=descending)


def user_list_for(*, organization: Organization, params: dict) -> QuerySet[User]:
    """user_list() for the User List's parameters (users.filters.list_params): the list, its
    export and its bulk actions select the same users."""
    return user_list(
        organization=organization,
        search=params.get("q", ""),
        role=params.get("role", ""),
        status=params.get("status", ""),
        service=params.get("service", ""),
        idle=params.get("idle", ""),
        sort=params.get("sort", "name"),
        descending=params.get("dir") == "desc",
    )


def order_users(qs: QuerySet[User], *, sort: str, descending: bool) -> QuerySet[User]:
    columns = SORTS.get(sort, SORTS["name"])
    ordering = []
    for column in (*columns, "id"):
        flip = column.startswith("-")
        name = column.lstrip("-")
        desc = descending != flip
        expr = F(name)
        if name in NULLABLE_SORT_COLUMNS:
            # "Never signed in" sorts first going up, last going down.
            ordering.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_first=True))
        else:
            # Plain ASC/DESC, so the (organization, column, id) indexes serve the order.
            ordering.append(expr.desc() if desc else expr.asc())
    return qs.order_by(*ordering)


def with_grants(qs: QuerySet[User]) -> QuerySet[User]:
    return qs.annotate(grant_codes=_grants_column())


# What a User List row shows or pages by: the page query reads these and nothing else.
LIST_ROW_FIELDS = (
    "id",
    "organization_id",
    "name",
    "login_id",
    "login_id_key",
    "role",
    "is_active",
    "extension",
    "last_login",
    "service_count",
    "deactivate_at",
)


def list_page(qs: QuerySet[User]) -> QuerySet:
    """The User List's page query: the row's columns, its grants and whether the user has
    2-step verification, in one statement, as named tuples (rows of a page need no model
    instances: building 51 of them cost more than the query)."""
    return (
        with_grants(qs)
        .annotate(has_mfa=mfa_selectors.has_mfa_sql())
        .values_list(*LIST_ROW_FIELDS, "grant_codes", "has_mfa", named=True)
    )


def parse_grants(codes: str | None) -> dict[str, str]:
    if not codes:
        return {}
    return dict(item.split("=", 1) for item in codes.split(","))


@dataclass(frozen=True)
class SeatMeter:
    used: int
    limit: int
    services: list[tuple[str, int, int]]  # (label, used, limit) of seat-limited services
    codes: tuple[str, ...] = ()  # those services' codes, in the same order

    @property
    def full(self) -> bool:
        return self.used >= self.limit

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


def seat_usage(*, organization: Organization, codes=()) -> dict[str, int]:
    """Seats in use, from the trigger-kept counters (accounts.models.SeatCount): "users" and each
    service code asked for. One indexed read, however large the organization."""
    wanted = {SeatCount.USERS, *codes}
    usage = dict.fromkeys(wanted, 0)
    usage.update(
        SeatCount.objects.filter(organization=organization, code__in=wanted).values_list(
            "code", "used"
        )
    )
    return usage


def seat_meter(*, organization: Organization) -> SeatMeter:
    """Users used / contracted, and the same per seat-limited service, in one query."""
    contract = organization.contract
    limited = [
        code
        for code in sorted(catalog.SEAT_LIMITED_CODES)
        if contract.has_service(code) and contract.seat_limit(code) is not None
    ]
    usage = seat_usage(organization=organization, codes=limited)
    return SeatMeter(
        used=usage[SeatCount.USERS],
        limit=contract.user_limit,
        services=[
            (catalog.get(code).label, usage[code], contract.seat_limit(code)) for code in limited
        ],
        codes=tuple(limited),
    )


def seats_held(
    *, organization: Organization, qs: QuerySet[User], meter: SeatMeter
) -> list[tuple[str, int]]:
    """(label, seats) of each seat-limited service of the meter that the users of `qs` hold:
    what the idle filter shows before a bulk deactivate (one grouped count)."""
    held = dict.fromkeys(meter.codes, 0)
    held.update(
        ServiceGrant.objects.filter(
            organization=organization,
            service__in=list(meter.codes),
            user_id__in=qs.order_by().values("pk"),
        )
        .values_list("service")
        .annotate(n=Count("id"))
        .values_list("service", "n")
    )
    return [
        (label, held[code])
        for code, (label, _used, _limit) in zip(meter.codes, meter.services, strict=True)
    ]
