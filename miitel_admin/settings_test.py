"""Test settings: production settings with a fast password hasher and a file-based SQLite test
database (threads in concurrency tests need a real file; an in-memory database is per
connection)."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# The test client speaks plain HTTP; production security flags are tested explicitly
# (tests/security) by overriding these.
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
# The live server of the browser tests is plain http://localhost as well.
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")

from .settings import *  # noqa: F403
from .settings import BASE_DIR, DATABASES

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.hashers.MiitelArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# TEST_DB_SUFFIX keeps parallel runs of the suite (two checkouts, two shells) apart.
_suffix = os.environ.get("TEST_DB_SUFFIX", "")
STATIC_ROOT = BASE_DIR / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test{_suffix}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_miitel{_suffix}"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Tasks run at once, inside the request that enqueues them.
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
LOGGING["loggers"]["django.tasks"] = {"level": "WARNING"}  # noqa: F405
