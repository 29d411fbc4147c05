"""The database restarts under the running app: requests get clean errors (503 from /healthz,
the generic 500 page elsewhere, no traceback), and the app recovers by itself when the database
is back, without restarting gunicorn.

The test runs its own throwaway PostgreSQL cluster (initdb into a temporary directory, on a free
port), so stopping it disturbs nothing else."""

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(180)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str], **kwargs):
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kwargs)


def _get(url: str, **headers) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=10
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def cluster():
    bin_dir = _pg_bin()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("PostgreSQL server binaries are needed for the restart test in CI")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed here")
    # Directly under /tmp: pytest's own temporary directories are closed to the postgres user.
    base = Path(tempfile.mkdtemp(prefix="miitel-pg-"))
    data = base / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-o", f"-p {port} -k {base}"]
    log = str(base / "pg.log")
    _as_postgres([*ctl, "-l", log, "start"])
    _as_postgres([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "app"])
    yield {
        "url": f"postgres://postgres@127.0.0.1:{port}/app",
        "start": lambda: _as_postgres([*ctl, "-l", log, "start"]),
        "stop": lambda: _as_postgres([*ctl, "-m", "fast", "stop"]),
    }
    subprocess.run(
        (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + [*ctl, "stop"],
        capture_output=True,
        check=False,
    )
    shutil.rmtree(base, ignore_errors=True)


def test_the_app_survives_a_database_restart(cluster, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "miitel_admin.settings",
        "DATABASE_URL": cluster["url"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "WEB_CONCURRENCY": "1",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "miitel_admin.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert _get(f"{base}/healthz")[0] == 200
        assert _get(f"{base}/login/")[0] == 200

        cluster["stop"]()
        status, body = _get(f"{base}/healthz")
        assert status == 503 and '"unreachable"' in body
        # The sign-in page alone needs no database; a request with a session does.
        assert _get(f"{base}/login/")[0] == 200
        status, body = _get(f"{base}/users/", Cookie="sessionid=" + "x" * 32)
        assert status == 500
        assert "Traceback" not in body and "OperationalError" not in body
        assert 'lang="' in body  # the app's own error page

        cluster["start"]()
        recovered = [_get(f"{base}/healthz")[0] for _ in range(3)]
        assert recovered[-1] == 200, recovered
        # Redirected (and followed) to the sign-in page: the session store answers again.
        assert _get(f"{base}/users/", Cookie="sessionid=" + "x" * 32)[0] == 200
        assert server.poll() is None  # the same server process all along
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
