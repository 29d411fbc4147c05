"""Settings for MiiTel Admin, read from the environment (django-environ).

Production is the default: with DEBUG off, HTTPS-only cookies, HSTS and the SSL redirect are on.
`make run` serves plain HTTP on loopback and turns off exactly those, through the environment
variables documented in README.md (SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE,
SECURE_HSTS_SECONDS).
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file (never committed) may hold the variables; the real environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY") if not DEBUG else env.str("SECRET_KEY", default="dev-insecure")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "accounts",
    "users",
    "sso",
    "mfa",
    "permissions",
    "analytics",
    "audit",
    "exports",
    "scim",
    "django_tasks_db",
]

MIDDLEWARE = [
    "miitel_admin.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which would read (and spool) a whole oversized upload; after the
    # headers and the language, so the 413 page is translated and carries every header.
    "miitel_admin.middleware.RequestSizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.UserContextMiddleware",
    # Between the password and the second factor, only the sign-in steps answer.
    "mfa.middleware.PendingSignInMiddleware",
    "accounts.middleware.ForcedPasswordChangeMiddleware",
    "accounts.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # axes last, as its documentation asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "miitel_admin.urls"
WSGI_APPLICATION = "miitel_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # Only for fragments Django's engine renders too slowly (the User List's rows); they
        # live in <app>/jinja2/ and are placed into Django templates.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "miitel_admin.jinja_env.environment"},
    },
]

# --- Database -----------------------------------------------------------------------------------
# DATABASE_URL names PostgreSQL in CI and production; the default is an embedded SQLite file.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}


def _tune_database(db: dict) -> dict:
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE takes SQLite's write lock at BEGIN, so writers queue instead of failing on
        # lock upgrade, and a seat counted inside a transaction stays counted (SQLite has no
        # SELECT ... FOR UPDATE). WAL lets readers run beside the writer.
        db.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;",
            }
        )
    elif db["ENGINE"] == "django.db.backends.postgresql":
        db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        db["CONN_HEALTH_CHECKS"] = True
        # PostgreSQL's JIT compiles any query it estimates as costly: a 100,000-row export's
        # cursor spent a second compiling before its first row (docs/performance.md). The
        # app's queries are index scans that JIT does not speed up.
        options = db.setdefault("OPTIONS", {})
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
        # Server-side cursors stream exports; they break behind a transaction pooler.
        db["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False)
    return db


DATABASES["default"] = _tune_database(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -----------------------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    # axes first: a locked-out attempt is refused before any password hash runs.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.LoginIdBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    # argon2id, t=2, m=19 MiB, p=1: OWASP ASVS 5.0 Appendix C (see accounts/hashers.py).
    "accounts.hashers.MiitelArgon2PasswordHasher",
    # Older hashes verify and are upgraded to argon2id at the next sign-in.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.validators.PublishedPasswordRuleValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("login_id", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.validators.ContextWordsValidator"},
]

# Concurrent sign-in password hashes per machine (accounts.throttle): leaves cores for pages.
LOGIN_HASH_CONCURRENCY = env.int(
    "LOGIN_HASH_CONCURRENCY", default=max(1, (os.cpu_count() or 2) // 2)
)

# --- Sign-in throttling (django-axes) -----------------------------------------------------------
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Two counters: per normalised login ID (LOGIN_FAILURE_LIMIT) and per client IP, with a higher
# limit (LOGIN_IP_FAILURE_LIMIT) so one office behind a NAT is not locked out by a few typos.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=50)
AXES_FAILURE_LIMIT = "accounts.backends.axes_failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_LOCKOUT_CALLABLE = "users.views.lockout_response"
# A successful sign-in clears that login ID's failures only (accounts.signals), never the IP's:
# axes' own reset would also clear other login IDs' failures from the same address.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
# Client IPs (sign-in throttling, audit): REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies that
# append to X-Forwarded-For stand in front of the app; then the address that many hops from the
# right of X-Forwarded-For (what the outermost trusted proxy saw). Never the client-supplied left.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.backends.client_ip"

# --- 2-step verification (mfa) -----------------------------------------------------------------
# How long a sign-in may wait between the password and the second factor (or enrolment).
MFA_PENDING_TIMEOUT_SECONDS = env.int("MFA_PENDING_TIMEOUT_SECONDS", default=10 * 60)
# Passkeys (WebAuthn): the relying party ID (a domain, never an IP address) and the origins the
# browser may report. Empty: the request's host name and origin (ALLOWED_HOSTS vets the host).
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="")
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[])

# --- Sessions -----------------------------------------------------------------------------------
# Database sessions that take only a key Django could have issued (accounts/session_store.py).
SESSION_ENGINE = "accounts.session_store"
# accounts.middleware.SessionTimeoutMiddleware ends a session after SESSION_IDLE_TIMEOUT_SECONDS
# without a request (idle) and SESSION_ABSOLUTE_TIMEOUT_SECONDS after sign-in however active.
# The activity stamp is written at most once a minute, not on every request.
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT_SECONDS = env.int("SESSION_ABSOLUTE_TIMEOUT_SECONDS", default=12 * 3600)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "miitel_admin.views.csrf_failure"

# --- HTTPS and headers (on unless DEBUG; each can be turned off by its variable) ---------------
_secure_default = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_secure_default)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_secure_default)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_secure_default)
# __Host- cookies must be Secure, host-only and Path=/; browsers drop them otherwise.
SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if CSRF_COOKIE_SECURE else "csrftoken"
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _secure_default else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_secure_default)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- I18N / time --------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True
# One date and time format per language on every page (ja 2026/12/02 12:47, en 2 Dec 2026,
# 12:47): templates use SHORT_DATETIME_FORMAT, which these modules define.
FORMAT_MODULE_PATH = ["miitel_admin.formats"]
# The time zones the user form offers (IANA names). Published: JST only, for now.
USER_TIME_ZONES = env.list("USER_TIME_ZONES", default=["Asia/Tokyo"])

# --- SCIM provisioning (docs/scim.md) -------------------------------------------------------------
# Requests per minute per SCIM token (429 with Retry-After beyond): generous for an identity
# provider's initial sync, a stop for a runaway client. Counted in the database (scim.tokens).
SCIM_REQUESTS_PER_MINUTE = env.int("SCIM_REQUESTS_PER_MINUTE", default=6000)
# Paths of the token-authenticated API: no console session rules apply there (a forced
# password change never redirects an API request to a page).
TOKEN_API_PATH_PREFIXES = ("/scim/",)

# --- SAML single sign-on (docs/sso.md) ---------------------------------------------------------
# The public base URL of this service (https://admin.example.com): the SP entity IDs and ACS URLs
# given to identity providers. Empty: taken from each request's host (ALLOWED_HOSTS applies).
SSO_BASE_URL = env.str("SSO_BASE_URL", default="")
# A key and certificate (PEM files) to sign AuthnRequests for identity providers that want them
# signed (WantAuthnRequestsSigned). Without them such metadata is refused with the reason.
SSO_SP_KEY_FILE = env.str("SSO_SP_KEY_FILE", default="")
SSO_SP_CERT_FILE = env.str("SSO_SP_CERT_FILE", default="")
# xmlsec1 checks the signatures (pysaml2 calls it).
SSO_XMLSEC_BINARY = env.str("SSO_XMLSEC_BINARY", default="/usr/bin/xmlsec1")
# The clock difference allowed around NotBefore / NotOnOrAfter.
SSO_CLOCK_SKEW_SECONDS = env.int("SSO_CLOCK_SKEW_SECONDS", default=120)

# --- Background tasks ---------------------------------------------------------------------------
# The CSV import's apply step runs in `manage.py db_worker` (django-tasks-db: a queue in the
# database, so any app server can enqueue and any worker can run it).
TASKS = {
    "default": {"BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}
}

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Uploads ------------------------------------------------------------------------------------
# The largest body any page accepts: a 10 MB CSV import and its form fields.
MAX_REQUEST_BYTES = 10 * 1024 * 1024 + 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

SILENCED_SYSTEM_CHECKS = [
    # login_id is unique among users that are not deleted (a conditional constraint on the
    # normalised key); accounts.backends.LoginIdBackend looks users up through that key.
    "auth.W004",
]

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
