"""Through gunicorn, as in production, under load from wrk (Debian's wrk, on loopback)."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from django.conf import settings
from django.test import Client

from accounts.models import User

from .seed import PASSWORD
from .timing import Result

ROOT = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).parent / "gunicorn"


@contextlib.contextmanager
def gunicorn(port: int, **env_extra):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", **env_extra}
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(GUNICORN),
            "miitel_admin.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:  # refused, reset or timed out while the workers boot
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(Path(log.name).read_text()[-2000:]) from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        Path(log.name).unlink(missing_ok=True)


def session_cookie(login_id: str) -> str:
    client = Client()
    client.force_login(User.objects.get(login_id_key=login_id))
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def wrk(url: str, *, connections=16, duration=10, threads=2, headers=(), script=None) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _ms(lat.get("50", "0ms")),
        "p99": _ms(lat.get("99", "0ms")),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def _login_script(base: str, login_id: str) -> str:
    """A wrk Lua script that POSTs the sign-in form with a valid CSRF token and password."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    csrf = next(c for c in jar if "csrftoken" in c.name)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": login_id, "password": PASSWORD}
    )
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    script.write(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Cookie"] = "{csrf.name}={csrf.value}"\n'
        f'wrk.headers["Referer"] = "{base}/login/"\n'
    )
    script.close()
    return script.name


def load(duration: int) -> list[Result]:
    results = []
    admin_l = "bench-admin@l.bench.example.com"
    cookie = session_cookie(admin_l)
    with gunicorn(8311) as base:
        list_url = f"{base}/users/"
        wrk(list_url, duration=2, headers=[f"Cookie: {cookie}"])  # warm up
        idle = wrk(list_url, duration=duration, headers=[f"Cookie: {cookie}"])
        single = wrk(
            list_url, duration=duration, connections=1, threads=1, headers=[f"Cookie: {cookie}"]
        )

        # While the large tenant's export streams.
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        request = urllib.request.Request(f"{base}/users/export/", headers={"Cookie": cookie})
        html = opener.open(request).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        csrf = next(c for c in jar if "csrftoken" in c.name)
        done: dict = {}

        def stream():
            data = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "encoding": "utf-8"}
            ).encode()
            req = urllib.request.Request(
                f"{base}/users/export/",
                data=data,
                headers={
                    "Cookie": f"{cookie}; {csrf.name}={csrf.value}",
                    "Referer": f"{base}/users/export/",
                },
            )
            started = time.perf_counter()
            total = 0
            with urllib.request.urlopen(req, timeout=600) as response:
                first = None
                while True:
                    block = response.read(64 * 1024)
                    if first is None:
                        first = time.perf_counter() - started
                    if not block:
                        break
                    total += len(block)
            done.update(bytes=total, seconds=time.perf_counter() - started, ttfb=first)

        exporter = threading.Thread(target=stream)
        exporter.start()
        time.sleep(0.3)
        during_export = wrk(list_url, duration=min(duration, 5), headers=[f"Cookie: {cookie}"])
        exporter.join()

        # While 16 clients sign in at once.
        script = _login_script(base, admin_l)
        flood: dict = {}
        flooder = threading.Thread(
            target=lambda: flood.update(wrk(f"{base}/login/", duration=duration, script=script))
        )
        flooder.start()
        time.sleep(1)
        during_logins = wrk(list_url, duration=duration - 2, headers=[f"Cookie: {cookie}"])
        flooder.join()
        os.unlink(script)

    size = User.objects.filter(organization__slug="bench-l").count()
    r = Result(
        f"User List through gunicorn (gthread), {size:,}-user tenant, wrk -c16", unit="req/s"
    )
    r.values = {
        "idle": idle["rps"],
        f"while a {size:,}-row export streams": during_export["rps"],
        "while 16 clients sign in": during_logins["rps"],
    }
    r.extra["p50 / p99 idle (ms)"] = f"{idle['p50']:.1f} / {idle['p99']:.1f}"
    r.extra["p50 / p99 during export (ms)"] = (
        f"{during_export['p50']:.1f} / {during_export['p99']:.1f}"
    )
    r.extra["p50 / p99 during sign-in flood (ms)"] = (
        f"{during_logins['p50']:.1f} / {during_logins['p99']:.1f}"
    )
    r.extra["one client at a time: p50 (ms), req/s"] = f"{single['p50']:.1f}, {single['rps']:.0f}"
    r.extra["export"] = (
        f"{done.get('bytes', 0) / 1e6:.1f} MB in {done.get('seconds', 0):.1f} s, "
        f"first byte after {1000 * (done.get('ttfb') or 0):.0f} ms"
    )
    r.extra["sign-ins/s during the flood"] = f"{flood.get('rps', 0):.1f}"
    r.extra["non-2xx responses"] = str(
        idle["errors"] + during_export["errors"] + during_logins["errors"]
    )
    r.target = "p99 during the sign-in flood ≤ 3× idle p99"
    r.met = during_logins["p99"] <= 3 * max(idle["p99"], 1)
    results.append(r)
    results.append(_logins(duration))
    return results


def _logins(duration: int) -> Result:
    """Sign-ins per second at 16 connections: the project's argon2 profile vs Django's default,
    each on its own server run, the same data."""
    figures = {}
    for label, login_id, env in (
        ("this project's profile", "bench-admin@l.bench.example.com", {}),
        (
            "Django's default profile",
            "bench-default@l.bench.example.com",
            {"BENCH_DJANGO_DEFAULT_HASHER": "1", "LOGIN_HASH_CONCURRENCY": "0"},
        ),
    ):
        with gunicorn(8312, **env) as base:
            script = _login_script(base, login_id)
            one = wrk(
                f"{base}/login/",
                duration=max(duration // 2, 3),
                connections=1,
                threads=1,
                script=script,
            )
            many = wrk(f"{base}/login/", duration=duration, script=script)
            os.unlink(script)
        figures[label] = (one, many)
    r = Result("Sign-in (POST /login/, right password) through gunicorn", unit="req/s")
    r.values = {f"{k}, 16 connections": v[1]["rps"] for k, v in figures.items()}
    for k, (one, many) in figures.items():
        r.extra[f"{k}: one sign-in alone, p50 (ms)"] = f"{one['p50']:.1f}"
        r.extra[f"{k}: p50 / p99 at 16 connections (ms)"] = f"{many['p50']:.0f} / {many['p99']:.0f}"
    ours = r.values["this project's profile, 16 connections"]
    default = r.values["Django's default profile, 16 connections"]
    r.target = "≥ 5× Django's default throughput (≥ 50/s)"
    r.met = ours >= 5 * default and ours >= 50
    return r


def two_instances() -> list[Result]:
    """Two app servers on one database behave as one: a session made on A is accepted by B, and
    failed sign-ins on both count towards one lockout."""
    from axes.models import AccessAttempt

    probe = "lockout-probe@l.bench.example.com"
    user = User.objects.filter(login_id_key=probe).first()
    if user is None:
        from django.contrib.auth.hashers import make_password

        user = User.objects.create(
            organization=User.objects.get(
                login_id_key="bench-admin@l.bench.example.com"
            ).organization,
            login_id=probe,
            name="Probe",
            role=User.Role.ADMIN,
            password=make_password(PASSWORD),
            must_change_password=False,
        )
    AccessAttempt.objects.filter(username=probe).delete()
    r = Result("Two gunicorn instances on one database", unit="")
    with gunicorn(8321) as a, gunicorn(8322) as b:
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def post_login(base, password):
            html = opener.open(f"{base}/login/").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
            data = urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "username": probe, "password": password}
            ).encode()
            request = urllib.request.Request(
                f"{base}/login/", data=data, headers={"Referer": f"{base}/login/"}
            )
            try:
                return opener.open(request).status
            except urllib.error.HTTPError as error:
                return error.code

        status_a = post_login(a, PASSWORD)
        status_b = opener.open(f"{b}/users/").status
        r.extra["sign in on A, then the User List on B"] = f"{status_a} then {status_b}"
        session_shared = (
            status_a == 200
            and status_b == 200
            and opener.open(f"{b}/users/").geturl().endswith("/users/")
        )

        jar.clear()
        statuses = [post_login(a if i % 2 else b, "wrong-Passw0rd") for i in range(5)]
        locked = post_login(a, PASSWORD)
        r.extra["5 wrong passwords alternating A/B, then the right one on A"] = (
            f"{statuses} then {locked}"
        )
        lockout_shared = locked == 429
    AccessAttempt.objects.filter(username=probe).delete()
    r.values = {
        "session accepted across servers": float(session_shared),
        "lockout counted across servers": float(lockout_shared),
    }
    r.target = "both true"
    r.met = session_shared and lockout_shared
    return [r]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None
