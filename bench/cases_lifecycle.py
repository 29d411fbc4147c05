"""Lifecycle tools on the large tenant: a bulk deactivation of 10,000 users matching a filter in
one apply_changes call beside the single-user deactivation called user by user, and the idle
filter's page 1 beside the unfiltered page 1. Each call commits, as it does for its callers;
the users are then put back as seeded."""

import statistics
import time

from django.db import connection, transaction
from django.db.models import F

from accounts.models import Organization, User
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor
from users import selectors
from users.changes import BatchSpec, Change, apply_changes

from .cases_db import _client, _get, _queries
from .fresh import run_fresh
from .timing import Result, compare

BULK_SIZE = 10_000
SAMPLE = 200  # single-user calls timed, extrapolated to BULK_SIZE
FILTER = {"idle": "30", "status": "active"}


def _selection(org: Organization) -> list[int]:
    """The first BULK_SIZE users (by ID) the User List shows for FILTER."""
    qs = selectors.user_list_for(organization=org, params=FILTER).order_by("pk")
    return list(qs.values_list("pk", flat=True)[:BULK_SIZE])


def _actor(org: Organization) -> Actor:
    admin = User.objects.get(login_id_key="bench-admin@l.bench.example.com")
    return Actor(user=admin, label=admin.login_id)


def _restore(org: Organization, ids: list[int], since_event: int) -> None:
    """Put the deactivated users back as seeded: active, their version as before, no audit
    records or batches of the run (the bench database only)."""
    with transaction.atomic():
        User.objects.filter(pk__in=ids, is_active=False).update(
            is_active=True, version=F("version") - 1
        )
        AuditEvent.objects.filter(pk__gt=since_event).delete()
        ChangeBatch.objects.filter(organization=org).delete()


def _last_event() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _bulk_once(org: Organization, ids: list[int]) -> float:
    """Milliseconds of one apply_changes call deactivating `ids`, committed as the bulk apply
    commits it (then restored)."""
    actor = _actor(org)
    since = _last_event()
    started = time.perf_counter()
    result = apply_changes(
        organization=org,
        actor=actor,
        changes=[Change(user_id=pk, fields={"is_active": False}) for pk in ids],
        batch=BatchSpec(kind=ChangeBatch.Kind.DEACTIVATE),
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert result.committed and result.batch.size == len(ids), result.problems[:3]
    _restore(org, ids, since)
    return elapsed


def _single_once(org: Organization, ids: list[int]) -> float:
    """Milliseconds per user of the single-user deactivation (the console's and the
    deactivate_user command's call: one change, its own transaction, one audit record), called
    user by user (then restored)."""
    actor = _actor(org)
    since = _last_event()
    started = time.perf_counter()
    for pk in ids:
        result = apply_changes(
            organization=org, actor=actor, changes=[Change(user_id=pk, fields={"is_active": False})]
        )
        assert result.committed
    elapsed = (time.perf_counter() - started) * 1000
    _restore(org, ids, since)
    return elapsed / len(ids)


def _bulk_rss() -> tuple[float, float]:
    """(ms, peak RSS growth in MiB) of the bulk deactivation in a fresh process."""
    ms, growth = run_fresh(
        """
        from accounts.models import Organization
        from bench.cases_lifecycle import _bulk_once, _selection

        org = Organization.objects.select_related("contract").get(slug="bench-l")
        ids = _selection(org)
        before = reset_peak()
        ms = _bulk_once(org, ids)
        print(ms, peak_growth_mib(before))
        """
    )
    return float(ms), float(growth)


def _vacuum() -> None:
    """A run and its restore leave 20,000 dead row versions and their index entries: cleaned
    as autovacuum would between runs, so that each run (and the list pages) meets the table as
    seeded."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE users_user")
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def lifecycle(rounds: int) -> list[Result]:
    org = Organization.objects.select_related("contract").get(slug="bench-l")
    ids = _selection(org)
    assert len(ids) == BULK_SIZE, len(ids)
    results = []

    bulk_runs, single_runs = [], []
    for round_ in range(max(2, rounds // 2)):
        _vacuum()
        # Interleaved, each on users the other does not touch in the round.
        sample = ids[(round_ * SAMPLE) % BULK_SIZE :][:SAMPLE]
        if round_ % 2:
            single_runs.append(_single_once(org, sample))
            bulk_runs.append(_bulk_once(org, ids))
        else:
            bulk_runs.append(_bulk_once(org, ids))
            single_runs.append(_single_once(org, sample))
    bulk_ms = statistics.median(bulk_runs)
    single_ms = statistics.median(single_runs) * BULK_SIZE
    _vacuum()
    fresh_ms, rss = _bulk_rss()
    _vacuum()

    r = Result(
        f"Deactivate {BULK_SIZE:,} users matching a filter (idle=30, active) in the "
        f"{User.objects.filter(organization=org).count():,}-user tenant"
    )
    r.values = {
        "one apply_changes call (one transaction, one batch)": bulk_ms,
        f"single-user deactivation × {BULK_SIZE:,} (from {SAMPLE} calls)": single_ms,
    }
    r.baseline = f"single-user deactivation × {BULK_SIZE:,} (from {SAMPLE} calls)"
    r.candidate = "one apply_changes call (one transaction, one batch)"
    r.target = "≥ 50× faster than the single-user service; memory flat"
    r.extra["peak RSS growth (fresh process)"] = f"{rss:.0f} MiB"
    r.extra["fresh process, first call"] = f"{fresh_ms:,.0f} ms"
    r.met = r.ratio() >= 50
    results.append(r)

    client = _client("bench-admin@l.bench.example.com")
    candidates = {"unfiltered": _get(client, "/users/")}
    for idle in ("30", "90", "never"):
        candidates[f"idle={idle}"] = _get(client, f"/users/?idle={idle}")
    values = compare(candidates, rounds=rounds, inner=3)
    worst = max((k for k in values if k != "unfiltered"), key=values.get)
    r = Result(
        f"User List, large tenant ({User.objects.filter(organization=org).count():,}), idle filter page 1"
    )
    r.values = values
    r.baseline, r.candidate = "unfiltered", worst
    r.target = "the slowest idle filter within 1.5× of the unfiltered page 1"
    r.extra["queries (idle=30)"] = str(_queries(client, "/users/?idle=30"))
    r.met = values[worst] <= 1.5 * values["unfiltered"]
    results.append(r)
    return results
