# MiiTel Admin production image: gunicorn + WhiteNoise, settings from the environment,
# runs as an unprivileged user. Build: docker build -t miitel-admin .
FROM python:3.12-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir "uv==0.13.8"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

FROM python:3.12-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=miitel_admin.settings
# xmlsec1 checks the signatures of SAML responses (pysaml2 calls it; docs/sso.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1=1.2.37-2 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=10001:10001 . .
# Static files are collected at build time (a throwaway key: nothing secret is baked in).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && chown -R 10001:10001 /app/staticfiles
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "miitel_admin.wsgi:application", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
