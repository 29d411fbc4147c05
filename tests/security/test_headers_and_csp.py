"""Transport and security headers, CSP with nonces, cookies, caching and error pages under
production settings (docs/security.md's /.git).

The test settings serve plain HTTP; the `production` fixture turns on what production runs
(HSTS, Secure `__Host-` cookies, the HTTPS redirect) and every request is made over HTTPS."""

import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import include, path, reverse

from accounts import checks
from accounts.models import User
from exports.models import ActiveTransfer
from miitel_admin.url_policy import ADMIN, POLICY, SIGNED_IN
from tests.factories import PASSWORD
from tests.security.conftest import consume, url_of

HSTS_MIN = 31536000
CSP_REQUIRED = (
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)
STRICT_REFERRER = {"same-origin", "no-referrer", "strict-origin"}
SECRET_IN_ERROR = "SELECT password FROM users_user WHERE secret = 'boom-7731'"


# --- A URLconf with a view that fails, for the 500 page -------------------------------------------


def _failing_view(request):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raise RuntimeError(SECRET_IN_ERROR)


urlpatterns = [
    path("boom/", _failing_view, name="boom"),
    path("", include("miitel_admin.urls")),
]
handler400 = "miitel_admin.views.bad_request"
handler403 = "miitel_admin.views.permission_denied"
handler404 = "miitel_admin.views.page_not_found"
handler500 = "miitel_admin.views.server_error"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = HSTS_MIN
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_NAME = "__Host-sessionid"
    settings.CSRF_COOKIE_NAME = "__Host-csrftoken"
    return settings


def secure_client(user=None, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def csp(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    policy = {}
    for directive in filter(None, (d.strip() for d in header.split(";"))):
        name, *values = directive.split()
        policy[name] = values
    return policy


def nonce_of(response) -> str | None:
    for value in csp(response).get("script-src", []):
        match = re.fullmatch(r"'nonce-([^']+)'", value)
        if match:
            return match.group(1)
    return None


class Markup(HTMLParser):
    """Scripts (with their nonce), event-handler and style attributes, and <style> elements."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.styles: list[str] = []
        self.feed(body)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "style":
            self.styles.append("<style>")
        for name in attrs:
            if name.lower().startswith("on"):
                self.handlers.append((tag, name))
            if name.lower() == "style":
                self.styles.append(tag)
        if tag == "a" and (attrs.get("href") or "").lower().startswith("javascript:"):
            self.handlers.append((tag, "href=javascript:"))

    handle_startendtag = handle_starttag


def assert_security_headers(response, what: str) -> None:
    hsts = response.get("Strict-Transport-Security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    assert match and int(match.group(1)) >= HSTS_MIN, (what, hsts)
    assert "includesubdomains" in hsts.lower(), (what, hsts)
    assert response.get("X-Content-Type-Options") == "nosniff", what
    referrer = response.get("Referrer-Policy")
    assert referrer in STRICT_REFERRER, (what, referrer)
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", what
    header = response.get("Content-Security-Policy", "")
    for directive in CSP_REQUIRED:
        assert directive in header, (what, directive, header)
    script_src = csp(response).get("script-src")
    assert script_src, (what, header)
    for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        assert unsafe not in script_src, (what, unsafe)


# --- every response type ------------------------------------------------------------------------


@pytest.fixture
def responses(production, world, member_a, admin_a):
    """One response of each kind, all over HTTPS."""
    admin = secure_client(admin_a)
    member = secure_client(member_a)
    anonymous = secure_client()
    got = {}
    got["html"] = admin.get(reverse("users:list"), secure=True)
    export = admin.post(reverse("exports:export"), {"encoding": "utf-8"}, secure=True)
    assert export.streaming
    got["csv stream"] = export
    got["csv download"] = admin.post(url_of("exports:import_passwords", world), secure=True)
    got["json"] = admin.get(url_of("exports:import_status", world), secure=True)
    got["302"] = anonymous.get(reverse("users:list"), secure=True)
    got["403"] = member.get(reverse("users:list"), secure=True)
    csrf = secure_client(admin_a, enforce_csrf_checks=True)
    got["403 csrf"] = csrf.post(reverse("users:create"), {}, secure=True)
    got["404"] = admin.get("/users/987654/edit/", secure=True)
    got["405"] = admin.put(reverse("users:list"), secure=True)
    limit, production.MAX_REQUEST_BYTES = production.MAX_REQUEST_BYTES, 1024
    upload = SimpleUploadedFile("big.csv", b"x" * 4096, content_type="text/csv")
    got["413"] = admin.post(reverse("exports:import"), {"file": upload}, secure=True)
    production.MAX_REQUEST_BYTES = limit
    for _ in range(2):
        ActiveTransfer.objects.create(
            organization=world["org_a"], kind="export", expires_at="2999-01-01T00:00:00Z"
        )
    got["429"] = admin.post(reverse("exports:export"), {"encoding": "utf-8"}, secure=True)
    production.ROOT_URLCONF = __name__
    failing = secure_client(admin_a, raise_request_exception=False)
    got["500"] = failing.get("/boom/", secure=True)
    got["login page"] = anonymous.get(reverse("login"), secure=True)
    return got


EXPECTED_STATUS = {
    "html": 200,
    "csv stream": 200,
    "csv download": 200,
    "json": 200,
    "302": 302,
    "403": 403,
    "403 csrf": 403,
    "404": 404,
    "405": 405,
    "413": 413,
    "429": 429,
    "500": 500,
    "login page": 200,
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(EXPECTED_STATUS))
def test_every_response_type_carries_the_security_headers(responses, kind):
    response = responses[kind]
    body = consume(response)

    assert response.status_code == EXPECTED_STATUS[kind], (kind, body[:300])
    assert_security_headers(response, kind)
    if b"<script" in body:
        # A page with a script allows exactly that script, by its nonce.
        nonce = nonce_of(response)
        assert nonce, kind
        scripts = Markup(body.decode()).scripts
        assert scripts and all(s.get("nonce") == nonce for s in scripts), (kind, scripts)


@pytest.mark.django_db
def test_the_csv_stream_is_a_no_store_attachment(responses):
    response = responses["csv stream"]
    consume(response)
    assert response["Content-Disposition"] == 'attachment; filename="users.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_500_page_is_generic(responses):
    response = responses["500"]
    body = response.content.decode()
    assert "errors/500.html" in [t.name for t in response.templates]
    for leak in ("Traceback", "RuntimeError", "boom-7731", "SELECT", "users_user", ".py"):
        assert leak not in body, leak


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(production, admin_a):
    response = secure_client(admin_a).get(reverse("users:list"))
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/users/"


# --- the nonce ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_nonce_is_new_on_every_response_and_matches_every_script(production, admin_a):
    client = secure_client(admin_a)
    first = client.get(reverse("users:list"), secure=True)
    second = client.get(reverse("users:list"), secure=True)

    nonces = [nonce_of(first), nonce_of(second)]
    assert all(nonces) and nonces[0] != nonces[1]
    assert len(nonces[0]) >= 16
    for response, nonce in zip((first, second), nonces, strict=True):
        scripts = Markup(response.content.decode()).scripts
        assert scripts
        assert [s.get("nonce") for s in scripts] == [nonce] * len(scripts)


def console_pages(world) -> list[str]:
    return [
        url_of(name, world)
        for name, policy in sorted(POLICY.items())
        if policy.access in (ADMIN, SIGNED_IN)
        and "GET" in policy.methods
        and name != "exports:import_status"
    ] + ["/users/987654/edit/"]


@pytest.mark.django_db
@pytest.mark.parametrize("locale", ["ja", "en"])
def test_console_pages_have_no_inline_handlers_styles_or_unnonced_scripts(
    production, world, admin_a, locale
):
    User.objects.filter(pk=admin_a.pk).update(locale=locale)
    client = secure_client(admin_a)
    anonymous = secure_client()
    pages = [(client, url) for url in console_pages(world)]
    pages.append((anonymous, reverse("login")))
    for who, url in pages:
        response = who.get(url, secure=True, HTTP_ACCEPT_LANGUAGE=locale)
        assert response.status_code in (200, 404), (url, response.status_code)
        assert response["Content-Type"].startswith("text/html"), url
        body = response.content.decode()
        assert f'<html lang="{locale}"' in body, (url, locale)
        markup = Markup(body)
        assert markup.handlers == [], (url, markup.handlers)
        assert markup.styles == [], (url, markup.styles)
        nonce = nonce_of(response)
        assert markup.scripts, url
        assert all(s.get("nonce") == nonce for s in markup.scripts), (url, markup.scripts)
        assert "no-store" in response["Cache-Control"], url


# --- cookies ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_host_only_secure_and_samesite(production, admin_a):
    client = Client()
    page = client.get(reverse("login"), secure=True)
    assert page.status_code == 200

    response = client.post(
        reverse("login"),
        {"username": admin_a.login_id, "password": PASSWORD},
        secure=True,
        REMOTE_ADDR="10.9.9.9",
    )

    assert response.status_code == 302
    assert set(response.cookies) == {"__Host-sessionid", "__Host-csrftoken"}
    for name, morsel in response.cookies.items():
        assert morsel.value, name
        assert morsel["secure"] is True, name
        assert morsel["samesite"] == "Lax", name
        assert morsel["path"] == "/", name
        assert morsel["domain"] == "", name
    assert response.cookies["__Host-sessionid"]["httponly"] is True
    # The session cookie ends when the absolute timeout does (a persistent cookie, but never
    # longer than the session it carries).
    assert 0 < int(response.cookies["__Host-sessionid"]["max-age"]) <= 12 * 3600
    assert client.get(reverse("users:list"), secure=True).status_code == 200


# --- caching, repository files, the CSP system check --------------------------------------------


@pytest.mark.django_db
def test_authenticated_html_and_the_sign_in_page_are_no_store(production, world, admin_a):
    client = secure_client(admin_a)
    for url in (reverse("users:list"), reverse("audit:list"), url_of("users:edit", world)):
        response = client.get(url, secure=True)
        assert "no-store" in response["Cache-Control"], url
    assert "no-store" in Client().get(reverse("login"), secure=True)["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path_", ["/.git/HEAD", "/.git/config", "/.env", "/db.sqlite3", "/static/../.git/HEAD"]
)
def test_repository_and_environment_files_are_not_served(production, admin_a, path_):
    for client in (Client(), secure_client(admin_a)):
        response = client.get(path_, secure=True)
        assert response.status_code == 404, (path_, response.status_code)
        assert b"ref:" not in consume(response)


def test_the_csp_system_check_fails_when_csp_is_empty(settings):
    assert checks.csp_configured(None) == []

    settings.SECURE_CSP = {}
    errors = checks.csp_configured(None)

    assert [e.id for e in errors] == ["miitel.E001"]
    assert all(e.is_serious() for e in errors)


def test_the_csp_system_check_fails_without_the_middleware_or_a_directive(settings):
    middleware = "django.middleware.csp.ContentSecurityPolicyMiddleware"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != middleware]
    assert [e.id for e in checks.csp_configured(None)] == ["miitel.E002"]

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, middleware]
    settings.SECURE_CSP = {k: v for k, v in settings.SECURE_CSP.items() if k != "object-src"}
    assert [e.id for e in checks.csp_configured(None)] == ["miitel.E003"]


def test_the_csp_check_is_registered_for_every_check_run(settings):
    from django.core.checks import run_checks

    settings.SECURE_CSP = {}
    assert "miitel.E001" in [e.id for e in run_checks()]
