"""Production settings: secure by default with DEBUG off; `check --deploy` is clean; `make run`'s
plain-HTTP switches turn off exactly the HTTPS-only settings."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _settings(env: dict) -> dict:
    """Import miitel_admin.settings in a fresh interpreter with `env`; return chosen values."""
    code = (
        "import json, miitel_admin.settings as s;"
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG','SECURE_SSL_REDIRECT','SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE',"
        "'SESSION_COOKIE_NAME','CSRF_COOKIE_NAME','SECURE_HSTS_SECONDS',"
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS','SESSION_COOKIE_HTTPONLY','SESSION_COOKIE_SAMESITE',"
        "'PASSWORD_HASHERS','ALLOWED_HOSTS')}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_clean_env(env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import json

    return json.loads(result.stdout)


def _clean_env(extra: dict) -> dict:
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "DATABASE_URL"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


PRODUCTION = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "example.com"}


def test_production_defaults_are_secure_with_debug_off():
    s = _settings(PRODUCTION)
    assert s["DEBUG"] is False
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SESSION_COOKIE_SECURE"] is True and s["CSRF_COOKIE_SECURE"] is True
    assert s["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert s["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert s["SECURE_HSTS_SECONDS"] >= 31536000 and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SESSION_COOKIE_HTTPONLY"] is True and s["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert s["PASSWORD_HASHERS"][0] == "accounts.hashers.MiitelArgon2PasswordHasher"
    assert s["ALLOWED_HOSTS"] == ["example.com"]


def test_local_http_switches_turn_off_only_the_https_settings():
    s = _settings(
        {
            **PRODUCTION,
            "SECURE_SSL_REDIRECT": "False",
            "SESSION_COOKIE_SECURE": "False",
            "CSRF_COOKIE_SECURE": "False",
            "SECURE_HSTS_SECONDS": "0",
        }
    )
    assert s["DEBUG"] is False
    assert (s["SECURE_SSL_REDIRECT"], s["SESSION_COOKIE_SECURE"], s["CSRF_COOKIE_SECURE"]) == (
        False,
        False,
        False,
    )
    assert s["SESSION_COOKIE_NAME"] == "sessionid"  # __Host- needs Secure
    assert s["SECURE_HSTS_SECONDS"] == 0
    assert s["SESSION_COOKIE_HTTPONLY"] is True


def test_settings_refuse_to_start_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "-c", "import miitel_admin.settings"],
        cwd=ROOT,
        env=_clean_env({"ALLOWED_HOSTS": "example.com"}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.timeout(120)
def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = _clean_env({**PRODUCTION, "DJANGO_SETTINGS_MODULE": "miitel_admin.settings"})
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'deploy.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
