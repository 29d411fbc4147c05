"""The bench data set, generated inside PostgreSQL (INSERT ... SELECT generate_series): minutes,
not hours, for millions of rows.

- bench-s: the typical tenant, 2,000 users, each with 1,200 call records and 365 By-user rows,
  plus one heavy user with 1,000,000 call records and 10,000 By-user rows (the deletion bench);
- bench-l: the large tenant, 100,000 users (1,000,000 with --huge), 12 calls and 3 By-user
  rows each;
- 20 neighbouring tenants of 500 users each, so every query has other tenants' rows to skip.
"""

import time

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from accounts.models import Organization, User
from analytics.generate import generate_meetings_and_more
from audit.services import Actor
from permissions import catalog
from users import services

SEED_VERSION = "bench-seed-v1"
PASSWORD = "Bench-pass-2026"  # the bench admins' password (bench database only)

FAMILY = [
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "山口",
    "松本",
    "井上",
]
ROMAJI = [
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "ito",
    "watanabe",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "sasaki",
    "yamaguchi",
    "matsumoto",
    "inoue",
]
GIVEN = [
    "太郎",
    "花子",
    "健太",
    "美咲",
    "翔太",
    "陽菜",
    "大輔",
    "さくら",
    "拓也",
    "結衣",
    "直樹",
    "真由美",
]

_USERS_SQL = """
INSERT INTO users_user (password, last_login, organization_id, login_id, login_id_key, name,
    locale, time_zone, role, extension, is_active, must_change_password, deleted_at,
    created_at, updated_at, version, external_id)
SELECT %(pw)s,
       CASE WHEN g %% 5 = 0 THEN NULL ELSE now() - (g %% 2000) * interval '1 hour' END,
       %(org)s,
       (%(romaji)s::text[])[1 + g %% 16] || '.' || lpad(g::text, 7, '0') || '@' || %(domain)s,
       lower((%(romaji)s::text[])[1 + g %% 16] || '.' || lpad(g::text, 7, '0') || '@' || %(domain)s),
       (%(family)s::text[])[1 + g %% 16] || (%(given)s::text[])[1 + (g / 16) %% 12] || ' '
           || (%(romaji)s::text[])[1 + g %% 16] || g,
       CASE WHEN g %% 7 = 3 THEN 'en' ELSE 'ja' END, 'Asia/Tokyo',
       CASE WHEN g %% 50 = 1 THEN 'admin' ELSE 'member' END,
       CASE WHEN g <= 899999 THEN (100000 + g)::text ELSE '' END,
       g %% 13 <> 5, false, NULL, now(), now(), 1, ''
FROM generate_series(1, %(n)s) AS g
"""

_GRANTS_SQL = """
INSERT INTO permissions_servicegrant (organization_id, user_id, service, level, granted_at)
SELECT u.organization_id, u.id, s.code, s.level, now()
FROM users_user u
JOIN (VALUES ('phone', '', 10, 7), ('monitoring', '', 10, 2), ('call_history', '', 1, 1),
             ('dashboard', '', 1, 1), ('video_analytics', '', 2, 1),
             ('fulltext_search', '', 3, 2), ('funnel', '', 4, 1),
             ('meeting_access', 'host', 5, 1)) AS s(code, level, modulo, below)
  ON u.id %% s.modulo < s.below
WHERE u.organization_id = %(org)s
"""


def _say(message: str) -> None:
    print(f"  {message}", flush=True)


def seeded() -> bool:
    return Organization.objects.filter(slug="bench-s", name__contains=SEED_VERSION).exists()


def _organization(slug: str, name: str, user_limit: int, phone_limit: int) -> Organization:
    return services.organization_create(
        actor=Actor.operator("bench"),
        slug=slug,
        name=f"{name} ({SEED_VERSION})",
        user_limit=user_limit,
        services=sorted(catalog.GRANTABLE_CODES),
        service_limits={catalog.PHONE: phone_limit},
    )


def _users(org: Organization, n: int, domain: str, password_hash: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _USERS_SQL,
            {
                "pw": password_hash,
                "org": org.pk,
                "domain": domain,
                "n": n,
                "family": FAMILY,
                "romaji": ROMAJI,
                "given": GIVEN,
            },
        )
        cursor.execute(_GRANTS_SQL, {"org": org.pk})


def _bench_admins(org: Organization, domain: str) -> None:
    """Two admins that sign in: one hashed with the project's profile, one with Django's
    default argon2 profile (the sign-in benchmark's baseline)."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    ours = make_password(PASSWORD)
    default = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
    for login, encoded in ((f"bench-admin@{domain}", ours), (f"bench-default@{domain}", default)):
        User.objects.create(
            organization=org,
            login_id=login,
            name="Bench Admin",
            role=User.Role.ADMIN,
            password=encoded,
            must_change_password=False,
        )


def _activity(org, user_ids, calls, days):
    from analytics.generate import generate_by_user_days, generate_calls

    step = 2000
    made_calls = made_days = 0
    for start in range(0, len(user_ids), step):
        chunk = user_ids[start : start + step]
        made_calls += generate_calls(organization=org, user_ids=chunk, per_user=calls)
        made_days += generate_by_user_days(organization=org, user_ids=chunk, days=days)
    return made_calls, made_days


def seed(*, huge: bool = False) -> dict:
    import random

    started = time.perf_counter()
    unusable = make_password(None)
    made = {}
    with transaction.atomic():
        s_org = _organization("bench-s", "Bench S", 3_000, 2_000)
        _users(s_org, 2_000, "s.bench.example.com", unusable)
        _bench_admins(s_org, "s.bench.example.com")
        large = 1_000_000 if huge else 100_000
        l_org = _organization("bench-l", "Bench L", large + 50_000, large)
        _users(l_org, large, "l.bench.example.com", unusable)
        _bench_admins(l_org, "l.bench.example.com")
        for i in range(20):
            n_org = _organization(f"bench-n{i:02d}", f"Neighbour {i:02d}", 1_000, 600)
            _users(n_org, 500, f"n{i:02d}.bench.example.com", unusable)
    _say(f"organizations and users: {time.perf_counter() - started:.1f}s")

    heavy = User.objects.create(
        organization=s_org,
        login_id="heavy@s.bench.example.com",
        name="Heavy Caller",
        password=unusable,
        must_change_password=False,
    )
    s_ids = list(
        User.objects.filter(organization=s_org).exclude(pk=heavy.pk).values_list("pk", flat=True)
    )
    t = time.perf_counter()
    calls, days = _activity(s_org, s_ids, calls=1_200, days=365)
    made["bench-s calls"], made["bench-s By-user rows"] = calls, days
    _say(
        f"bench-s activity: {calls:,} calls, {days:,} By-user rows, {time.perf_counter() - t:.1f}s"
    )
    t = time.perf_counter()
    calls, days = _activity(s_org, [heavy.pk], calls=1_000_000, days=10_000)
    made["heavy user calls"], made["heavy user By-user rows"] = calls, days
    _say(f"heavy user: {calls:,} calls, {days:,} By-user rows, {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    l_ids = list(User.objects.filter(organization=l_org).values_list("pk", flat=True))
    calls, days = _activity(l_org, l_ids, calls=12, days=3)
    made["bench-l calls"], made["bench-l By-user rows"] = calls, days
    _say(
        f"bench-l activity: {calls:,} calls, {days:,} By-user rows, {time.perf_counter() - t:.1f}s"
    )
    rng = random.Random(7)
    members = list(User.objects.filter(organization=s_org).exclude(pk=heavy.pk)[:400])
    generate_meetings_and_more(organization=s_org, users=[heavy, *members], per_user=3, rng=rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE") if not connection.in_atomic_block else None
    made["users"] = User.objects.count()
    made["seconds"] = round(time.perf_counter() - started, 1)
    return made
