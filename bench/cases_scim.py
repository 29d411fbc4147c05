"""SCIM provisioning through gunicorn: an identity provider's initial sync (POST /Users from 8
concurrent clients) beside the same creates handed to the change service directly, and a
userName filter beside a GET by id in the large tenant."""

import http.client
import json
import statistics
import threading
import time
from urllib.parse import quote, urlsplit

from django.db import connection, transaction

from accounts.models import Organization, User
from audit.models import AuditEvent
from audit.services import Actor
from permissions import catalog
from permissions.models import SeatCount, ServiceGrant
from scim.models import ScimToken
from scim.tokens import token_create
from users import services
from users.changes import Change, apply_changes

from .cases_http import gunicorn
from .timing import Result

CLIENTS = 8
CHUNK = 1_000
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _sync_org(run: str) -> Organization:
    return services.organization_create(
        actor=Actor.operator("bench"),
        slug=f"bench-scim-{run}",
        name=f"Bench SCIM {run}",
        user_limit=50_000,
        services=sorted(catalog.GRANTABLE_CODES),
        service_limits={catalog.PHONE: 50_000},
    )


def _drop(org: Organization) -> None:
    """The sync's organization goes again, so runs do not pile users into the bench database."""
    with transaction.atomic():
        ScimToken.objects.filter(organization=org).delete()
        AuditEvent.objects.filter(organization=org).delete()
        ServiceGrant.objects.filter(organization=org).delete()
        User.all_objects.filter(organization=org).delete()
        SeatCount.objects.filter(organization_id=org.pk).delete()
        org.delete()


def _payload(run: str, i: int) -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"sync-{run}-{i}@scim.bench.example.com",
        "name": {"givenName": f"Given{i}", "familyName": "Bench"},
        "externalId": f"ext-{run}-{i}",
        "active": True,
    }


def _post_all(base: str, secret: str, payloads: list[dict]) -> tuple[float, list[float]]:
    """POST every payload from CLIENTS threads, each on its own keep-alive connection;
    returns (seconds, per-request milliseconds)."""
    host = urlsplit(base)
    lock = threading.Lock()
    queue = list(enumerate(payloads))
    latencies: list[float] = []
    failures: list[str] = []

    def client():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/scim+json",
        }
        while True:
            with lock:
                if not queue:
                    break
                _i, payload = queue.pop()
            t = time.perf_counter()
            conn.request("POST", "/scim/v2/Users", json.dumps(payload), headers)
            response = conn.getresponse()
            body = response.read()
            ms = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(ms)
                if response.status != 201:
                    failures.append(f"{response.status} {body[:200]!r}")
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} SCIM creates failed, e.g. {failures[0]}")
    return seconds, latencies


def _direct(org: Organization, run: str, numbers: range) -> float:
    actor = Actor(user=None, label="bench direct")
    start = time.perf_counter()
    for i in numbers:
        apply_changes(
            organization=org,
            actor=actor,
            changes=[
                Change(
                    fields={
                        "login_id": f"direct-{run}-{i}@scim.bench.example.com",
                        "name": f"Bench Given{i}",
                        "external_id": f"ext-{run}-{i}",
                    },
                    grants={},
                    generate_password=True,
                )
            ],
        )
    return time.perf_counter() - start


def initial_sync(size: int) -> list[Result]:
    run = str(int(time.time()))
    org = _sync_org(run)
    try:
        secret = token_create(organization=org, actor=Actor.operator("bench"), name="bench").secret
        direct_s = scim_s = 0.0
        latencies: list[float] = []
        # Interleaved chunks: direct, SCIM, direct, SCIM, … so drift hits both alike.
        with gunicorn(8331, SCIM_REQUESTS_PER_MINUTE="1000000") as base:
            for start in range(0, size, CHUNK):
                numbers = range(start, min(start + CHUNK, size))
                direct_s += _direct(org, run, numbers)
                seconds, chunk_ms = _post_all(base, secret, [_payload(run, i) for i in numbers])
                scim_s += seconds
                latencies += chunk_ms
        assert User.objects.filter(organization=org).count() == 2 * size
    finally:
        _drop(org)
    direct_rate, scim_rate = size / direct_s, size / scim_s
    cuts = statistics.quantiles(latencies, n=100)
    r = Result(
        f"SCIM initial sync: {size:,} POST /Users from {CLIENTS} clients through gunicorn",
        unit="users/s",
    )
    r.values = {
        "change service called directly, one user at a time": round(direct_rate, 1),
        f"POST /scim/v2/Users, {CLIENTS} concurrent clients": round(scim_rate, 1),
    }
    r.baseline = "change service called directly, one user at a time"
    r.candidate = f"POST /scim/v2/Users, {CLIENTS} concurrent clients"
    r.extra = {
        "SCIM latency p50 / p99": f"{cuts[49]:.0f} ms / {cuts[98]:.0f} ms",
        "each create": "a generated temporary password (argon2id, the production profile)",
    }
    r.target = "SCIM throughput ≥ 50 % of the direct calls"
    r.met = scim_rate >= 0.5 * direct_rate
    return [r]


def _get_ms(conn, path: str, headers: dict) -> float:
    t = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    return (time.perf_counter() - t) * 1000


def filter_vs_id(rounds: int, per_round: int = 200) -> list[Result]:
    org = Organization.objects.get(slug="bench-l")
    size = SeatCount.used_of(organization_id=org.pk, code=SeatCount.USERS)
    new = token_create(organization=org, actor=Actor.operator("bench"), name=f"bench-{time.time()}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE users_user")
        users = list(
            User.objects.filter(organization=org)
            .order_by("?")
            .values_list("pk", "login_id")[:per_round]
        )
        samples: dict[str, list[float]] = {"by id": [], "by userName": []}
        with gunicorn(8332, SCIM_REQUESTS_PER_MINUTE="1000000") as base:
            host = urlsplit(base)
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            headers = {"Authorization": f"Bearer {new.secret}"}
            for pk, _login in users[:20]:  # warm up
                _get_ms(conn, f"/scim/v2/Users/{pk}", headers)
            candidates = {
                "by id": lambda pk, login: f"/scim/v2/Users/{pk}",
                "by userName": lambda pk, login: (
                    "/scim/v2/Users?filter=" + quote(f'userName eq "{login.upper()}"')
                ),
            }
            for round_ in range(rounds):
                order = list(candidates.items())
                if round_ % 2:
                    order.reverse()
                for name, path in order:
                    times = [_get_ms(conn, path(pk, login), headers) for pk, login in users]
                    samples[name].append(statistics.median(times))
            conn.close()
    finally:
        ScimToken.objects.filter(pk=new.token.pk).delete()
    r = Result(f"SCIM GET in the {size:,}-user tenant through gunicorn (one client)", unit="ms")
    r.values = {
        "GET /Users/<id>": round(statistics.median(samples["by id"]), 2),
        'GET /Users?filter=userName eq "…" (upper-cased)': round(
            statistics.median(samples["by userName"]), 2
        ),
    }
    r.baseline = "GET /Users/<id>"
    r.candidate = 'GET /Users?filter=userName eq "…" (upper-cased)'
    ratio = r.values[r.candidate] / r.values[r.baseline]
    r.extra = {"filter / id": f"{ratio:.2f}×"}
    r.target = "the userName filter within 2× of GET by id"
    r.met = ratio <= 2
    return [r]


def scim(rounds: int, quick: bool) -> list[Result]:
    return [*initial_sync(1_000 if quick else 10_000), *filter_vs_id(rounds)]
