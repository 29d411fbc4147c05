"""Bench settings: production settings on a separate PostgreSQL database, plus what only the
comparisons need: Django's admin site (the changelist baseline) and a bare list view."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "b" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")

from miitel_admin.settings import *  # noqa: F403
from miitel_admin.settings import DATABASES, INSTALLED_APPS, LOGGING

DATABASES["default"]["NAME"] = os.environ.get("BENCH_DB_NAME", DATABASES["default"]["NAME"])
DATABASES["default"]["CONN_MAX_AGE"] = 600
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin"]
ROOT_URLCONF = "bench.urls"
LOGGING["root"]["level"] = "WARNING"
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}
AXES_ENABLED = os.environ.get("BENCH_AXES", "1") == "1"
if os.environ.get("BENCH_DJANGO_DEFAULT_HASHER") == "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
