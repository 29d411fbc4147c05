"""Reads over activity data, each scoped by a required organization (or viewer)."""

from datetime import date, datetime, time, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.batching import lookup_chunks
from accounts.models import Organization, User, UserSession
from permissions.models import ServiceGrant

from .models import (
    BookmarkedFilter,
    ByUserDaily,
    CallRecord,
    FunnelTeam,
    FunnelTeamMember,
    Meeting,
    MeetingParticipant,
    TableTheme,
)


def user_options(*, organization: Organization) -> QuerySet[User]:
    """The users a user-name filter offers: the organization's users that are not deleted
    (deleted users are hidden by the default manager), deactivated ones included, since their
    history is still there to filter."""
    return User.objects.filter(organization=organization).order_by("name", "id")


def call_list(*, organization: Organization, user: User | None = None) -> QuerySet[CallRecord]:
    qs = CallRecord.objects.filter(organization=organization)
    if user is not None:
        qs = qs.filter(user=user)
    return qs.select_related("user").order_by("-started_at", "-id")


def period_start(days: int | None) -> datetime | None:
    if not days:
        return None
    today = timezone.localdate()
    return datetime.combine(
        today - timedelta(days=days - 1), time.min, tzinfo=timezone.get_current_timezone()
    )


def dashboard_totals(
    *, organization: Organization, since: datetime | None, user: User | None = None
) -> dict:
    """Every call counts, the deleted users' included (published: they remain in the totals)."""
    qs = CallRecord.objects.filter(organization=organization)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if user is not None:
        qs = qs.filter(user=user)
    totals = qs.aggregate(calls=Count("id"), talk=Coalesce(Sum("duration_seconds"), 0))
    return {"calls": totals["calls"], "talk_seconds": totals["talk"]}


def by_user_table(
    *, organization: Organization, since_day: date | None, user: User | None = None
) -> list[dict]:
    """The By-user table: one row per user from their By-user rows (gone once deleted)."""
    qs = ByUserDaily.objects.filter(organization=organization)
    if since_day is not None:
        qs = qs.filter(day__gte=since_day)
    if user is not None:
        qs = qs.filter(user=user)
    rows = (
        qs.values("user_id")
        .annotate(
            calls=Coalesce(Sum("call_count"), 0),
            talk=Coalesce(Sum("talk_seconds"), 0),
            days=Count("id"),
            score=Sum("score"),
        )
        .order_by("-calls", "user_id")
    )
    rows = list(rows)
    names = dict(
        User.all_objects.filter(pk__in=[r["user_id"] for r in rows]).values_list("pk", "name")
    )
    for row in rows:
        row["name"] = names.get(row["user_id"], "")
        row["avg_score"] = (row["score"] or 0) / row["days"] if row["days"] else 0
    return rows


def visible_meetings(*, viewer: User) -> QuerySet[Meeting]:
    """Meetings `viewer` may open, by each meeting's access setting. A Host-only meeting is
    visible to its host alone, so once the host is deleted it is visible to no one."""
    allowed = Meeting.allowed_users.through.objects.filter(
        meeting_id=OuterRef("pk"), user_id=viewer.pk
    )
    return (
        Meeting.objects.filter(organization_id=viewer.organization_id)
        .filter(
            Q(access=Meeting.Access.ALL)
            | Q(host=viewer)
            | Q(access=Meeting.Access.SPECIFIED, pk__in=Subquery(allowed.values("meeting_id")))
        )
        .select_related("host", "uploader")
        .order_by("-started_at", "-id")
    )


def meeting_participants(*, meeting: Meeting) -> list[MeetingParticipant]:
    return list(meeting.participants.select_related("user").order_by("id"))


def video_dashboard(*, organization: Organization) -> dict:
    """Meetings counted by host and by uploader. Deleted users stay, shown "(Deleted)"."""
    base = Meeting.objects.filter(organization=organization)
    by_host = base.values("host_id").annotate(n=Count("id")).order_by("-n", "host_id")
    by_uploader = (
        base.exclude(uploader=None).values("uploader_id").annotate(n=Count("id")).order_by("-n")
    )
    ids = {r["host_id"] for r in by_host} | {r["uploader_id"] for r in by_uploader}
    users = {u.pk: u for u in User.all_objects.filter(pk__in=ids)}
    return {
        "total": base.count(),
        "by_host": [(users[r["host_id"]], r["n"]) for r in by_host],
        "by_uploader": [(users[r["uploader_id"]], r["n"]) for r in by_uploader],
    }


def table_themes(*, organization: Organization) -> QuerySet[TableTheme]:
    return (
        TableTheme.objects.filter(organization=organization)
        .select_related("creator")
        .order_by("name", "id")
    )


def bookmarks(*, organization: Organization) -> QuerySet[BookmarkedFilter]:
    return (
        BookmarkedFilter.objects.filter(organization=organization)
        .select_related("creator")
        .order_by("name", "id")
    )


def funnel_teams(*, organization: Organization) -> list[tuple[FunnelTeam, list[User]]]:
    teams = list(FunnelTeam.objects.filter(organization=organization).order_by("name", "id"))
    members: dict[int, list[User]] = {t.pk: [] for t in teams}
    for m in (
        FunnelTeamMember.objects.filter(team__in=teams)
        .select_related("user")
        .order_by("user__name", "user_id")
    ):
        members[m.team_id].append(m.user)
    return [(t, members[t.pk]) for t in teams]


def _impact_columns() -> dict:
    """What deleting a user removes and keeps, counted for the user of the outer query
    (docs/rules.md). Prefixed: a bare "grants" would collide with the reverse relation."""

    def count(model_qs, field="pk"):
        return Coalesce(
            Subquery(model_qs.order_by().values(field).annotate(n=Count("*")).values("n")[:1]),
            0,
        )

    ref = OuterRef("pk")

    def per_user(qs):
        # GROUP BY a constant column of the filtered rows: one row with the count.
        return count(qs, "organization_id")

    columns = {
        "by_user_rows": per_user(ByUserDaily.objects.filter(user=ref)),
        "call_records": per_user(CallRecord.objects.filter(user=ref)),
        "meetings_hosted": per_user(Meeting.objects.filter(host=ref)),
        "meetings_host_only": per_user(
            Meeting.objects.filter(host=ref, access=Meeting.Access.HOST)
        ),
        "meetings_uploaded": per_user(Meeting.objects.filter(uploader=ref)),
        "participations": count(MeetingParticipant.objects.filter(user=ref), "user_id"),
        "themes": per_user(TableTheme.objects.filter(creator=ref)),
        "bookmarks": per_user(BookmarkedFilter.objects.filter(creator=ref)),
        "funnel_teams": count(FunnelTeamMember.objects.filter(user=ref), "user_id"),
        "grants": per_user(ServiceGrant.objects.filter(user=ref)),
        "sessions": count(UserSession.objects.filter(user=ref), "user_id"),
    }
    return {f"n_{k}": v for k, v in columns.items()}


def deletion_impact(*, user: User) -> dict[str, int]:
    """What deleting `user` removes and keeps, counted in one query (docs/rules.md)."""
    row = User.all_objects.filter(pk=user.pk).values(**_impact_columns()).get()
    return {k[2:]: v for k, v in row.items()}


def deletion_impact_total(*, organization: Organization, user_ids: list[int]) -> dict[str, int]:
    """deletion_impact() summed over many users of one organization (a bulk deletion's
    confirmation): one query per lookup chunk of IDs, not one per user."""
    columns = _impact_columns()
    totals = {k[2:]: 0 for k in columns}
    for chunk in lookup_chunks(sorted(user_ids)):
        row = (
            User.all_objects.filter(organization=organization, pk__in=chunk)
            .annotate(**columns)
            .aggregate(**{f"t_{k}": Sum(k) for k in columns})
        )
        for key, value in row.items():
            totals[key[4:]] += value or 0
    return totals
