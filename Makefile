# MiiTel Admin. `make run` and `make test` do all set-up on a fresh machine (Python 3.12+, make).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python 3.12+ on PATH (pyenv and uv honour .python-version).
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install run test lint pytest messages makemessages bench check-controls clean check-python

help:
	@echo "make run    install, migrate an embedded SQLite database, seed a demo, serve on http://$(HOST):$(PORT)"
	@echo "make test   install, lint, run the whole test suite (PostgreSQL when DATABASE_URL names one)"
	@echo "make bench  benchmarks against PostgreSQL (DATABASE_URL), figures into docs/benchmarks.md"
	@echo "make check-controls  remove each security control in turn; its tests must then fail"

check-python:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is needed (none found on PATH)." >&2; exit 1; }

$(UV): | check-python
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	@touch $@

install: $(VENV)/.installed

# Translations: compiled with gettext's msgfmt when present; the compiled catalog is committed
# too, so a machine without gettext still runs the app in Japanese.
messages:
	@if command -v msgfmt >/dev/null 2>&1; then \
	  for po in locale/*/LC_MESSAGES/*.po; do msgfmt --check -o "$${po%.po}.mo" "$$po" || exit 1; done; fi

makemessages: install
	DJANGO_SETTINGS_MODULE=miitel_admin.settings_test $(MANAGE) makemessages -l ja --ignore=.venv --ignore=.tools --ignore=node_modules --no-obsolete --no-location

# Local serving over plain HTTP on loopback turns off exactly the HTTPS-only settings (and
# nothing else); a SECRET_KEY is generated once into .env (git-ignored).
.env:
	@$(PY) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))' > .env
	@echo "Wrote .env with a new SECRET_KEY."

run: install messages .env
	$(MANAGE) migrate --noinput -v0
	$(MANAGE) seed_demo --if-empty
	$(MANAGE) collectstatic --noinput -v0
	@# The task worker (CSV import) runs beside gunicorn and stops with it.
	$(MANAGE) db_worker --interval 1 & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	SECURE_SSL_REDIRECT=False SESSION_COOKIE_SECURE=False CSRF_COOKIE_SECURE=False SECURE_HSTS_SECONDS=0 \
	ALLOWED_HOSTS=$(HOST),localhost \
	$(VENV)/bin/gunicorn miitel_admin.wsgi:application --config gunicorn.conf.py --bind $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/lint-imports --no-cache

# axe-core for the accessibility tests, from the npm registry (skipped where npm is missing:
# those tests then skip with the reason, or fail under CI's REQUIRE_BROWSER=1).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: accessibility tests will be skipped"; fi

pytest: install messages node_modules/.installed
	@mkdir -p var test-artifacts
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: lint pytest

bench: install messages
	$(PY) -m bench $(BENCH_ARGS)

# Removes each security control in turn and checks that its tests then fail (docs/security.md).
check-controls: install messages
	$(PY) tests/control_removal.py $(CONTROLS)

clean:
	rm -rf $(VENV) $(TOOLS) staticfiles var test-artifacts .pytest_cache .ruff_cache
