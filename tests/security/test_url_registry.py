"""Every URL under a policy (docs/security.md).

The registry miitel_admin.url_policy.POLICY names each URL's access (public, signed-in, admin),
its methods and the organization-owned object its ID names. The URL resolver is walked, so a new
URL without a policy fails here; then each URL is tried by an anonymous visitor, a member, an
admin of another organization holding this organization's IDs, with wrong methods and without a
CSRF token. A refused request must change nothing (a dump of every tenant-owned table)."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from mfa.middleware import PendingSignInMiddleware
from miitel_admin.url_policy import ADMIN, IDP, PENDING, POLICY, PUBLIC, SIGNED_IN, TOKEN
from tests.analytics.factories import normalised
from tests.security.conftest import (
    ROOT,
    app_sources,
    client_for,
    consume,
    dump,
    missing_id,
    payload,
    pending_client,
    request,
    url_of,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

ADMIN_URLS = sorted(n for n, p in POLICY.items() if p.access == ADMIN)
NON_PUBLIC_URLS = sorted(n for n, p in POLICY.items() if p.access in (SIGNED_IN, ADMIN))
TOKEN_URLS = sorted(n for n, p in POLICY.items() if p.access == TOKEN)
TOKEN_METHODS = sorted((name, method) for name in TOKEN_URLS for method in POLICY[name].methods)
SCOPED_URLS = sorted(n for n, p in POLICY.items() if p.scoped)
# Token-authenticated URLs take no cookies, so no CSRF token either (section 6); the SAML ACS is
# posted from the identity provider's site and authenticated by the signed response (2c).
POST_URLS = sorted(
    n for n, p in POLICY.items() if "POST" in p.methods and p.access not in (TOKEN, IDP)
)
IDP_URLS = sorted(n for n, p in POLICY.items() if p.access == IDP)
WRONG_METHODS = sorted(
    (name, method) for name, p in POLICY.items() for method in METHODS if method not in p.methods
)
ALLOWED_ADMIN_METHODS = sorted(
    (name, method) for name in ADMIN_URLS for method in POLICY[name].methods
)
SCOPED_METHODS = sorted((name, method) for name in SCOPED_URLS for method in POLICY[name].methods)
# Objects that belong to the signed-in user (their own sign-in methods), not to the organization.
OWNED = ("totp_device", "passkey")
PENDING_URLS = sorted(n for n, p in POLICY.items() if p.access == PENDING)


def walk(resolver=None, namespace: str = "") -> list[str]:
    """Every URL name the resolver serves, namespaced ("users:edit"). An unnamed pattern is
    listed by its route, so it can never match a registry key."""
    resolver = resolver or get_resolver()
    names = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += walk(pattern, inner)
        elif isinstance(pattern, URLPattern):
            names.append(
                f"{namespace}{pattern.name}" if pattern.name else f"<unnamed {pattern.pattern}>"
            )
    return names


def assert_to_sign_in(response, url: str) -> None:
    assert response.status_code == 302, (url, response.status_code)
    location = urlsplit(response["Location"])
    assert location.path == reverse("login"), (url, response["Location"])
    assert parse_qs(location.query).get("next") == [url], (url, response["Location"])


# --- 1. The registry covers every URL -----------------------------------------------------------


def test_every_url_name_has_a_policy_and_every_policy_a_url():
    served = walk()
    assert len(served) == len(set(served)), "a URL name is used twice"
    assert set(served) == set(POLICY), {
        "missing from POLICY": sorted(set(served) - set(POLICY)),
        "in POLICY but not served": sorted(set(POLICY) - set(served)),
    }


def test_every_policy_is_well_formed():
    for name, policy in POLICY.items():
        assert policy.access in (PUBLIC, SIGNED_IN, ADMIN, PENDING, TOKEN, IDP), name
        assert policy.methods, name
        assert set(policy.methods) <= set(METHODS), name
        assert policy.scoped in (
            None,
            "user",
            "meeting",
            "import_job",
            "scim_token",
            "batch",
            *OWNED,
        ), name
        if policy.scoped in OWNED:
            assert policy.access == SIGNED_IN, f"{name}: one's own object, for any signed-in user"
        elif policy.scoped:
            assert policy.access == ADMIN, f"{name}: a scoped object needs an admin policy"


def test_the_pending_gate_lets_through_exactly_the_sign_in_steps():
    """Between the password and the second factor, only these answer (docs/security.md)."""
    assert set(PendingSignInMiddleware.allowed_url_names) == {
        *PENDING_URLS,
        "login",
        "logout",
        "healthz",
    }


def test_only_the_documented_urls_are_public():
    # docs/security.md: the allowlist is the sign-in page, the health check (and static
    # files, served by WhiteNoise outside the URL resolver); "/" only redirects; the language
    # switch, POST with a CSRF token, changes a signed-in user's own locale or else a cookie.
    # Single sign-on (docs/sso.md) adds its start page and each organization's SP metadata,
    # and the ACS that identity providers post to (access "idp").
    assert sorted(n for n, p in POLICY.items() if p.access == PUBLIC) == [
        "healthz",
        "home",
        "language",
        "login",
        "sso:metadata",
        "sso:start",
    ]
    assert IDP_URLS == ["sso:acs"]


# --- 2. Anonymous visitors are sent to sign in --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", NON_PUBLIC_URLS)
def test_anonymous_get_and_post_are_sent_to_sign_in_and_change_nothing(world, name):
    url = url_of(name, world)
    before = dump()
    client = Client()

    get = client.get(url)
    post = client.post(url, payload(name, world))

    if name == "logout":
        # Signing out nobody: GET is refused (POST-only, row 16); POST lands on the sign-in page.
        assert get.status_code == 405
        assert post.status_code == 302
        assert urlsplit(post["Location"]).path == reverse("login")
    elif POLICY[name].access == PENDING:
        # A sign-in step without a password first: back to the start of sign-in.
        for response in (get, post):
            if "GET" not in POLICY[name].methods and response is get:
                assert response.status_code == 405
                continue
            assert response.status_code == 302, (url, response.status_code)
            assert response["Location"] == reverse("login"), (url, response["Location"])
    else:
        assert_to_sign_in(get, url)
        assert_to_sign_in(post, url)
    assert dump() == before


@pytest.mark.django_db
def test_public_pages_answer_anonymous_visitors(world):
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    home = client.get(reverse("home"))
    assert home.status_code == 302
    assert urlsplit(home["Location"]).path == reverse("login")


# --- 2b. Token URLs answer 401 to anyone without a token, cookies or not --------------------------


def assert_scim_401(response, url: str, method: str) -> None:
    assert response.status_code == 401, (url, method, response.status_code)
    assert response["Content-Type"].startswith("application/scim+json"), (url, method)
    assert response["WWW-Authenticate"].startswith("Bearer"), (url, method)
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], body
    assert body["status"] == "401", body


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), TOKEN_METHODS)
def test_token_urls_answer_401_to_anonymous_visitors_and_change_nothing(world, name, method):
    url = url_of(name, world)
    before = dump()

    response = request(Client(), method, url, {"displayName": "x"})

    assert_scim_401(response, url, method)
    assert dump() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), TOKEN_METHODS)
def test_a_signed_in_console_session_gets_401_from_token_urls_never_a_page(world, name, method):
    """A cookie-authenticated request (an admin's browser, with its session and CSRF cookies,
    even one that must change its password) gets nothing from the SCIM API: the views are
    exempt from CSRF because no cookie authenticates them."""
    admin = world["admin_a"]
    admin.must_change_password = True
    admin.save(update_fields=["must_change_password"])
    client = client_for(admin, enforce_csrf_checks=True)
    url = url_of(name, world)
    before = dump()

    response = request(client, method, url, {"displayName": "x"})

    assert_scim_401(response, url, method)
    assert dump() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", TOKEN_URLS)
def test_a_token_of_the_organization_reaches_token_urls(world, name):
    """The positive control of the two tests above."""
    url = url_of(name, world)
    response = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {world['token_secret_a']}")
    expected = 404 if name in ("scim:unknown", "scim:root") else 200
    assert response.status_code == expected, (url, response.status_code)


# --- 2c. The SAML ACS: CSRF-exempt, and nothing without a valid signed response -------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", IDP_URLS)
def test_idp_urls_refuse_anything_but_a_valid_response_and_change_nothing_but_the_audit(
    world, name
):
    """Anonymous, a member, an admin, with or without a CSRF token: a POST without a signed SAML
    response signs nobody in and answers the refusal page (the audit records the refusal)."""
    url = url_of(name, world)
    for client in (
        Client(enforce_csrf_checks=True),
        client_for(world["member_a"], enforce_csrf_checks=True),
        client_for(world["admin_a"]),
    ):
        before = dump(without_audit=True)
        response = request(client, "POST", url, {"SAMLResponse": "PHg+PC94Pg=="})
        assert response.status_code in (400, 403), (url, response.status_code)
        assert "sso/refused.html" in [t.name for t in response.templates]
        assert dump(without_audit=True) == before


# --- 3. Members get 403 on every console URL ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), ALLOWED_ADMIN_METHODS)
def test_member_gets_403_on_every_admin_url_and_nothing_changes(world, name, method):
    client = client_for(world["member_a"])
    url = url_of(name, world)
    before = dump()

    response = request(client, method, url, payload(name, world))

    assert response.status_code == 403, (url, method, response.status_code)
    assert "errors/403.html" in [t.name for t in response.templates]
    assert dump() == before


@pytest.mark.django_db
def test_member_still_reaches_the_password_change_page(world):
    client = client_for(world["member_a"])
    assert client.get(reverse("password_change")).status_code == 200


# --- 4. Another organization's IDs answer exactly like IDs that do not exist --------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), SCOPED_METHODS)
def test_other_organizations_admin_gets_the_404_of_a_missing_id(world, name, method):
    client = client_for(world["admin_b"])
    foreign = url_of(name, world, "a")
    nowhere = url_of(name, world, object_id=missing_id(name))
    before = dump()

    response = request(client, method, foreign, payload(name, world))
    reference = request(client, method, nowhere, payload(name, world))

    assert response.status_code == 404, (foreign, method, response.status_code)
    assert reference.status_code == 404
    assert normalised(response) == normalised(reference)
    assert dump() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "method"), [(n, m) for n, m in SCOPED_METHODS if POLICY[n].scoped in OWNED]
)
def test_ones_own_sign_in_methods_answer_404_to_anyone_else_in_the_organization(
    world, name, method
):
    client = client_for(world["member_a"])
    foreign = url_of(name, world, "a")  # admin A's
    nowhere = url_of(name, world, object_id=missing_id(name))
    before = dump()

    response = request(client, method, foreign, payload(name, world))
    reference = request(client, method, nowhere, payload(name, world))

    assert response.status_code == 404, (foreign, method, response.status_code)
    assert normalised(response) == normalised(reference)
    assert dump() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", SCOPED_URLS)
def test_an_admin_of_the_same_organization_reaches_the_object(world, name):
    """The positive control of the test above: the same URL works for its own organization
    (a 404 for everyone would pass it too)."""
    client = client_for(world["admin_a"])
    method = POLICY[name].methods[0]

    response = request(client, method, url_of(name, world, "a"), payload(name, world))
    consume(response)

    assert response.status_code in (200, 302), (name, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", sorted(n for n in ADMIN_URLS if not POLICY[n].scoped and "GET" in POLICY[n].methods)
)
def test_lists_and_filters_of_another_organization_show_none_of_its_rows(world, name):
    """B's pages never show A's users, calls or meetings, even when a filter names them."""
    client = client_for(world["admin_b"])
    a = world
    foreign_filters = {
        # A fragment of A's login IDs (the pages echo the term typed, never a whole row of A).
        "q": "@a.example",
        "user": a["target_a"].pk,
        "host": a["target_a"].pk,
        "participant": a["inactive_a"].pk,
        "target": "@a.example",
    }
    markers = [
        a["target_a"].login_id,
        a["target_a"].name,
        a["inactive_a"].name,
        a["admin_a"].login_id,
        a["meeting_a"].title,
        a["org_a"].name,
        a["token_a"].name,
        a["sso_a"].idp_entity_id,
    ]

    for params in ({}, foreign_filters):
        response = client.get(reverse(name), params)
        assert response.status_code == 200, (name, params)
        body = consume(response).decode()
        for marker in markers:
            assert marker not in body, (name, params, marker)

    export = client.post(reverse("exports:export"), {"encoding": "utf-8", **foreign_filters})
    body = consume(export).decode("utf-8-sig")
    for marker in markers:
        assert marker not in body, ("export", marker)


# --- 5. Wrong methods answer 405 ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), WRONG_METHODS)
def test_every_method_outside_the_policy_answers_405(world, name, method):
    # As someone the URL is for: public URLs anonymously (the sign-in page sends a signed-in
    # visitor home whatever the method), sign-in steps mid-sign-in, token URLs with a token,
    # the others as an admin.
    access = POLICY[name].access
    if access in (PUBLIC, IDP):
        client = Client()
    elif access == PENDING:
        client = pending_client(world, name)
    elif access == TOKEN:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {world['token_secret_a']}")
    else:
        client = client_for(world["admin_a"])
    url = url_of(name, world)
    before = dump()

    response = request(client, method, url, payload(name, world))

    assert response.status_code == 405, (url, method, response.status_code)
    assert dump() == before


# --- 6. CSRF ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", POST_URLS)
def test_post_without_a_csrf_token_is_refused_and_changes_nothing(world, name):
    access = POLICY[name].access
    if access == PENDING:
        client = pending_client(world, name, enforce_csrf_checks=True)
    else:
        client = Client(enforce_csrf_checks=True)
    if access in (SIGNED_IN, ADMIN):
        client.force_login(world["admin_a"])
    # A page first, so the browser holds the CSRF cookie: only the token is missing.
    first = reverse("login") if access in (PUBLIC, PENDING) else reverse("users:list")
    assert client.get(first).status_code == 200
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert token
    url = url_of(name, world)
    before = dump()

    refused = client.post(url, payload(name, world))

    assert refused.status_code == 403, (url, refused.status_code)
    assert "errors/403_csrf.html" in [t.name for t in refused.templates]
    assert dump() == before

    # The control: the same request with the token is accepted.
    accepted = client.post(url, {**payload(name, world), "csrfmiddlewaretoken": token})
    consume(accepted)
    assert accepted.status_code in (200, 302), (url, accepted.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    # The sign-in pages send a signed-in visitor home.
    "name",
    sorted(n for n in POST_URLS if "GET" in POLICY[n].methods and n not in ("login", "sso:start")),
)
def test_get_on_a_state_changing_url_changes_nothing(world, name):
    """Row 20: the GET of a URL that changes state on POST only shows a form or confirmation."""
    if POLICY[name].access == PENDING:
        client = pending_client(world, name)
    else:
        client = client_for(world["admin_a"])
    before = dump()

    response = client.get(url_of(name, world))

    assert response.status_code == 200, (name, response.status_code)
    assert dump() == before


# --- 7. Between the password and the second factor: nothing but the sign-in steps -------------

CONSOLE_METHODS = sorted(
    (name, method)
    for name, p in POLICY.items()
    if p.access in (SIGNED_IN, ADMIN) or name == "home"
    for method in p.methods
    if name != "logout"
)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), CONSOLE_METHODS)
def test_mid_sign_in_every_console_url_leads_to_the_second_factor_and_changes_nothing(
    world, name, method
):
    """docs/security.md (step-up): the password alone reaches no console page, no CSV export and
    not the security page; every one of them sends the browser to the second-factor page."""
    client = pending_client(world)
    url = url_of(name, world)
    before = dump()

    response = request(client, method, url, payload(name, world))

    assert response.status_code == 302, (url, method, response.status_code)
    assert response["Location"] == reverse("mfa:verify"), (url, response["Location"])
    assert "_auth_user_id" not in client.session
    assert dump() == before


@pytest.mark.django_db
def test_mid_sign_in_the_export_and_the_user_list_need_the_second_factor_first(world):
    """The positive control of the walk above: after the code, the same browser gets them."""
    client = pending_client(world)
    assert client.post(reverse("exports:export"), {"encoding": "utf-8"})["Location"] == reverse(
        "mfa:verify"
    )

    done = client.post(reverse("mfa:verify"), payload("mfa:verify", world))

    assert done.status_code == 302 and done["Location"] == reverse("home")
    assert client.get(reverse("users:list")).status_code == 200
    export = client.post(reverse("exports:export"), {"encoding": "utf-8"})
    assert export.status_code == 200
    assert world["target_a"].login_id in consume(export).decode("utf-8-sig")


# --- 8. Static review: no CSRF exemption, no unescaped output, no raw SQL -----------------------

FORBIDDEN = ("csrf_exempt", "mark_safe", "|safe", ".extra(", "RawSQL(", ".raw(", "format_html(")
# Reviewed uses: (path, needle) -> (how many, why each is safe). A further use in the same file
# changes the count and fails the test until it is reviewed too.
ALLOWLIST: dict[tuple[str, str], tuple[int, str]] = {
    ("users/selectors.py", "RawSQL("): (
        1,  # the one call
        "the User List's grants column: constant SQL built from the models' table names, no "
        "input (an ORM subquery cost more to build per page than to run)",
    ),
    ("mfa/selectors.py", "RawSQL("): (
        1,  # the one call
        "the User List's has-2-step-verification column: constant SQL built from the models' "
        "table names, no input",
    ),
    ("users/presenters.py", "mark_safe"): (
        2,  # the import and the one call
        "the User List's rows as rendered by the Jinja2 template users/user_rows.html, whose "
        "environment autoescapes every value (test_input_fuzz.py renders users named with "
        "markup through it and finds them escaped; test_jinja_environment.py checks the "
        "setting)",
    ),
    ("sso/views.py", "csrf_exempt"): (
        2,  # the import and the ACS
        "the SAML ACS is posted by the browser from the identity provider's site; the signed "
        "SAML response authenticates it, verified by pysaml2 against the organization's IdP "
        "metadata and bound to a request this browser made "
        "(test_idp_urls_refuse_anything_but_a_valid_response_and_change_nothing_but_the_audit, "
        "tests/sso/test_refusals.py)",
    ),
    ("scim/api.py", "csrf_exempt"): (
        2,  # the import and the one use, in the decorator every SCIM view goes through
        "the SCIM API authenticates by bearer token only and never by cookie: a request "
        "without a token is answered 401 whatever cookies it carries "
        "(test_a_signed_in_console_session_gets_401_from_token_urls_never_a_page)",
    ),
}
# Jinja2's spelling of switching escaping off, besides Django's {% autoescape off %}.
UNESCAPING_BLOCKS = (r"{%\s*autoescape\s+off\s*%}", r"{%-?\s*autoescape\s+false\s*-?%}")


def test_the_source_tree_is_scanned():
    files = {p.relative_to(ROOT).as_posix() for p in app_sources("*.py", "*.html")}
    assert {
        "users/views.py",
        "exports/views.py",
        "templates/base.html",
        "users/jinja2/users/user_rows.html",
    } <= files


def test_no_csrf_exemption_unescaped_output_or_raw_sql_in_the_source():
    found = []
    for path in app_sources("*.py", "*.html"):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(ROOT).as_posix()
        for needle in FORBIDDEN:
            count = text.count(needle)
            allowed, _reason = ALLOWLIST.get((relative, needle), (0, ""))
            if count != allowed:
                found.append((relative, needle, count))
        # {% autoescape off %} (Jinja2: false) switches escaping off for a whole block.
        if any(re.search(pattern, text) for pattern in UNESCAPING_BLOCKS):
            found.append((relative, "autoescape off", 1))
    assert found == []
