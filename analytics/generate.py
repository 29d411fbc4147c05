"""Demo and benchmark activity, generated inside the database.

Calls and By-user rows are produced by one INSERT ... SELECT per table (PostgreSQL's
generate_series, a recursive CTE on SQLite): a million call records take seconds, not minutes,
because no row crosses from Python. The demo's By-user rows are instead added up from its call
records (derive_by_user_days), so its Dashboard is coherent; the bench's are generated apart.
Meetings, participants, themes, bookmarks and funnel teams are few and use bulk_create."""

import json
import random
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

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

_CALLS_PG = """
INSERT INTO analytics_callrecord
    (organization_id, user_id, started_at, duration_seconds, direction, counterpart)
SELECT %(org)s, u.id,
       %(now)s - (random() * %(days)s * 86400) * interval '1 second',
       5 + (random() * 900)::int,
       CASE WHEN random() < 0.55 THEN 'out' ELSE 'in' END,
       '0' || (3 + (random() * 6)::int)::text || '-'
           || lpad((random() * 9999)::int::text, 4, '0') || '-'
           || lpad((random() * 9999)::int::text, 4, '0')
FROM users_user u CROSS JOIN generate_series(1, %(n)s) AS g
WHERE u.id = ANY(%(ids)s)
"""

_CALLS_SQLITE = """
INSERT INTO analytics_callrecord
    (organization_id, user_id, started_at, duration_seconds, direction, counterpart)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %(n)s)
SELECT %(org)s, u.id,
       datetime(%(now)s, '-' || (abs(random()) %% (%(days)s * 86400)) || ' seconds'),
       5 + abs(random()) %% 900,
       CASE WHEN abs(random()) %% 100 < 55 THEN 'out' ELSE 'in' END,
       printf('0%%d-%%04d-%%04d', 3 + abs(random()) %% 6, abs(random()) %% 10000,
              abs(random()) %% 10000)
FROM users_user u, seq
WHERE u.id IN (SELECT value FROM json_each(%(ids)s))
"""

_DAYS_PG = """
INSERT INTO analytics_byuserdaily
    (organization_id, user_id, day, call_count, talk_seconds, talk_ratio, score)
SELECT %(org)s, uid, %(today)s - d, c, c * t,
       round((0.2 + random() * 0.6)::numeric, 3), round((40 + random() * 60)::numeric, 1)
FROM (SELECT u.id AS uid, d, (random() * 40)::int AS c, 30 + (random() * 300)::int AS t
      FROM users_user u CROSS JOIN generate_series(0, %(days)s - 1) AS d
      WHERE u.id = ANY(%(ids)s)) AS s
"""

_DAYS_SQLITE = """
INSERT INTO analytics_byuserdaily
    (organization_id, user_id, day, call_count, talk_seconds, talk_ratio, score)
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < %(days)s - 1)
SELECT %(org)s, uid, date(%(today)s, '-' || n || ' days'), c, c * t,
       round(0.2 + (abs(random()) %% 600) / 1000.0, 3),
       round(40 + (abs(random()) %% 600) / 10.0, 1)
FROM (SELECT u.id AS uid, n, abs(random()) %% 41 AS c, 30 + abs(random()) %% 300 AS t
      FROM users_user u, seq
      WHERE u.id IN (SELECT value FROM json_each(%(ids)s))) AS s
"""


def _params(organization, user_ids, **extra):
    ids = list(user_ids)
    if connection.vendor == "sqlite":
        return {"org": organization.pk, "ids": json.dumps(ids), **extra}
    return {"org": organization.pk, "ids": ids, **extra}


def generate_calls(*, organization, user_ids, per_user: int, days: int = 365) -> int:
    if not user_ids or per_user <= 0:
        return 0
    sql = _CALLS_PG if connection.vendor == "postgresql" else _CALLS_SQLITE
    now = timezone.now()
    if connection.vendor == "sqlite":
        now = now.astimezone(timezone.UTC).strftime("%Y-%m-%d %H:%M:%S")
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(organization, user_ids, now=now, days=days, n=per_user))
        return cursor.rowcount


def generate_by_user_days(*, organization, user_ids, days: int) -> int:
    if not user_ids or days <= 0:
        return 0
    sql = _DAYS_PG if connection.vendor == "postgresql" else _DAYS_SQLITE
    today = timezone.localdate()
    if connection.vendor == "sqlite":
        today = today.isoformat()
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(organization, user_ids, today=today, days=days))
        return cursor.rowcount


def derive_by_user_days(*, organization, user_ids, rng: random.Random) -> int:
    """By-user rows added up from the users' call records: one row per user and day (in the
    default time zone, as the Dashboard counts days) with that day's calls and talk time, so
    the By-user table and the Dashboard's totals agree. Scores and talk ratios are made up."""
    days = (
        CallRecord.objects.filter(organization=organization, user_id__in=list(user_ids))
        .annotate(day=TruncDate("started_at", tzinfo=timezone.get_default_timezone()))
        .values("user_id", "day")
        .annotate(calls=Count("id"), talk=Sum("duration_seconds"))
        .order_by("user_id", "day")
    )
    rows = [
        ByUserDaily(
            organization=organization,
            user_id=d["user_id"],
            day=d["day"],
            call_count=d["calls"],
            talk_seconds=d["talk"],
            talk_ratio=round(0.2 + rng.random() * 0.6, 3),
            score=round(40 + rng.random() * 60, 1),
        )
        for d in days.iterator(chunk_size=5000)
    ]
    return len(ByUserDaily.objects.bulk_create(rows, batch_size=5000))


MEETING_TITLES = [
    "定例ミーティング",
    "商談: 導入のご相談",
    "週次レビュー",
    "Onboarding call",
    "Quarterly business review",
    "製品デモ",
    "サポート打ち合わせ",
    "Pipeline review",
]
THEME_NAMES = ["営業成績", "通話品質", "Weekly KPIs", "新人フォロー"]
BOOKMARK_NAMES = ["今週の発信", "長時間の通話", "Missed inbound", "要フォロー"]
TEAM_NAMES = ["第一営業部", "インサイドセールス", "Enterprise"]


def generate_meetings_and_more(
    *, organization, users, per_user: int, rng: random.Random
) -> dict[str, int]:
    """Meetings with participants, table themes, bookmarks and funnel teams for `users`."""
    if not users:
        return {}
    now = timezone.now()
    accesses = [
        Meeting.Access.ALL,
        Meeting.Access.ALL,
        Meeting.Access.SPECIFIED,
        Meeting.Access.HOST,
    ]
    meetings = []
    for user in users:
        for _ in range(per_user):
            meetings.append(
                Meeting(
                    organization=organization,
                    host=user,
                    uploader=user if rng.random() < 0.5 else rng.choice(users),
                    title=rng.choice(MEETING_TITLES),
                    started_at=now - timedelta(minutes=rng.randrange(1, 60 * 24 * 180)),
                    access=rng.choice(accesses),
                )
            )
    meetings = Meeting.objects.bulk_create(meetings, batch_size=2000)
    participants = []
    allowed = []
    for meeting in meetings:
        others = rng.sample(users, k=min(len(users), rng.randint(1, 4)))
        participants.append(MeetingParticipant(meeting=meeting, user=meeting.host))
        participants += [
            MeetingParticipant(meeting=meeting, user=u) for u in others if u != meeting.host
        ]
        if rng.random() < 0.3:
            participants.append(MeetingParticipant(meeting=meeting, guest_name="ゲスト 様"))
        if meeting.access == Meeting.Access.SPECIFIED:
            allowed += [
                Meeting.allowed_users.through(meeting_id=meeting.pk, user_id=u.pk)
                for u in others
                if u != meeting.host
            ]
    MeetingParticipant.objects.bulk_create(participants, batch_size=5000)
    Meeting.allowed_users.through.objects.bulk_create(allowed, batch_size=5000)

    creators = rng.sample(users, k=min(len(users), 4))
    TableTheme.objects.bulk_create(
        TableTheme(organization=organization, creator=c, name=n, columns=["calls", "talk_time"])
        for c, n in zip(creators, THEME_NAMES, strict=False)
    )
    BookmarkedFilter.objects.bulk_create(
        BookmarkedFilter(organization=organization, creator=c, name=n, conditions={"days": 7})
        for c, n in zip(reversed(creators), BOOKMARK_NAMES, strict=False)
    )
    teams = FunnelTeam.objects.bulk_create(
        FunnelTeam(organization=organization, name=n) for n in TEAM_NAMES
    )
    members = []
    for user in users:
        for team in rng.sample(teams, k=rng.randint(0, 2)):
            members.append(FunnelTeamMember(team=team, user=user))
    FunnelTeamMember.objects.bulk_create(members, batch_size=5000)
    return {
        "meetings": len(meetings),
        "participants": len(participants),
        "funnel_memberships": len(members),
    }
