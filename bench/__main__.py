"""python -m bench [--huge] [--reseed] [--only NAME ...] [--rounds N] [--quick]

Runs against PostgreSQL (DATABASE_URL), in a database of its own (<name>_bench, or
<name>_bench_huge with --huge), seeded once and reused. Prints a table and writes
docs/benchmarks.md (docs/benchmarks-huge.md with --huge)."""

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    "hashing",
    "mfa",
    "login_lookup",
    "list",
    "search",
    "delete",
    "export",
    "import",
    "import_dry_run",
    "http",
    "instances",
    "scim",
    "lifecycle",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--huge", action="store_true", help="1,000,000 users in the large tenant")
    parser.add_argument("--reseed", action="store_true", help="rebuild the bench database")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter wrk runs")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "make bench needs PostgreSQL: set DATABASE_URL, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/miitel make bench",
            file=sys.stderr,
        )
        return 2
    parts = urlsplit(url)
    # BENCH_DB_NAME names another bench database (one per work tree on a shared server).
    bench_db = os.environ.get("BENCH_DB_NAME") or (
        (parts.path.lstrip("/") or "miitel") + ("_bench_huge" if args.huge else "_bench")
    )
    os.environ["BENCH_DB_NAME"] = bench_db
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(ROOT))
    _ensure_database(url, bench_db, drop=args.reseed)

    import django

    django.setup()
    from django.core.management import call_command

    from bench import seed

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # served as in production
    started = time.perf_counter()
    if not seed.seeded():
        if args.reseed is False and _has_rows():
            _ensure_database(url, bench_db, drop=True)
            call_command("migrate", verbosity=0)
        print("Seeding the bench database (once; reused by later runs) ...", flush=True)
        made = seed.seed(huge=args.huge)
        print("  made: " + ", ".join(f"{k} {v:,}" for k, v in made.items()), flush=True)
    seed_seconds = time.perf_counter() - started

    from bench import cases_db, cases_http, cases_lifecycle, cases_mfa, cases_scim, report

    rounds = 3 if args.quick else args.rounds
    duration = 5 if args.quick else 10
    wanted = args.only or SECTIONS
    runs = {
        "hashing": lambda: cases_db.hashing(rounds),
        "mfa": lambda: cases_mfa.second_factor(rounds),
        "login_lookup": lambda: cases_db.login_lookup(rounds),
        "list": lambda: cases_db.list_pages(rounds),
        "search": lambda: cases_db.search_index(rounds),
        "delete": lambda: cases_db.delete_user(rounds),
        "export": lambda: cases_db.export(rounds),
        "import": lambda: cases_db.import_users(rounds),
        "import_dry_run": lambda: cases_db.import_dry_run(rounds),
        "http": lambda: cases_http.load(duration),
        "instances": cases_http.two_instances,
        "scim": lambda: cases_scim.scim(rounds, args.quick),
        "lifecycle": lambda: cases_lifecycle.lifecycle(rounds),
    }
    results = []
    for name in SECTIONS:
        if name not in wanted:
            continue
        if name in ("http", "instances") and not cases_http.have_wrk():
            print(f"[{name}] skipped: wrk is not installed (apt-get install wrk)", flush=True)
            continue
        t = time.perf_counter()
        print(f"[{name}] ...", flush=True)
        section = runs[name]()
        for result in section:
            print(report.text(result), flush=True)
        print(f"[{name}] {time.perf_counter() - t:.0f}s", flush=True)
        results += section
    report.write(
        results,
        path=ROOT / "docs" / ("benchmarks-huge.md" if args.huge else "benchmarks.md"),
        command="make bench"
        + (" BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'" if sys.argv[1:] else ""),
        machine=_machine(),
        seed_seconds=seed_seconds,
        total_seconds=time.perf_counter() - started,
        large=cases_db.large_tenant_size(),
    )
    print(
        f"Wrote docs/{'benchmarks-huge' if args.huge else 'benchmarks'}.md ({len(results)} benchmarks)."
    )
    return 0


def _ensure_database(url: str, name: str, *, drop: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _has_rows() -> bool:
    from accounts.models import Organization

    return Organization.objects.exists()


def _machine() -> dict:
    import django

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).split("\n")[0][:40]
    except OSError:
        wrk_version = "not installed"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem:.0f} GiB",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "PostgreSQL": pg,
        "wrk": wrk_version,
    }


if __name__ == "__main__":
    sys.exit(main())
