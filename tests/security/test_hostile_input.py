"""Odd input that used to reach the database unchecked (issue 13, "beyond the five"), and the
property-based tests of the User List's query parameters (quality.md A.7 row 24: never a 5xx).

Where each class of input is stopped:
- query parameters and form fields: the forms. Django's CharField refuses a NUL with the
  field's own error, the filter forms' free-text fields refuse lone surrogates too, and every
  other field accepts only values from a fixed set;
- the session cookie: the session store (accounts.session_store), which takes only keys it
  could have issued;
- CSV files: exports.csv_format (tests/exports/test_import_hostile_files.py)."""

import pytest
from django.conf import settings
from django.http import QueryDict
from django.urls import reverse

from audit.selectors import audit_list
from audit.views import AuditFilterForm
from exports import views as export_views
from tests.security.conftest import client_for
from users import views as user_views
from users.filters import UserFilterForm

pytestmark = pytest.mark.django_db


# --- the session cookie -------------------------------------------------------------------------

# What a client sends for a NUL: a quoted cookie value may carry octal escapes ("\000"), which
# Python's cookie parser decodes; the key then reached PostgreSQL (a 500 on every page).
HOSTILE_SESSION_KEYS = {
    "nul-escaped": '"abc\\000defghijklmnop"',
    "nul-alone": '"\\000\\000\\000\\000\\000\\000\\000\\000"',
    "upper-case": "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
    "too-long": "a" * 41,
    "latin-1": "caf\xe9" * 8,
}


@pytest.mark.parametrize("cookie", HOSTILE_SESSION_KEYS.values(), ids=HOSTILE_SESSION_KEYS.keys())
@pytest.mark.parametrize("url", ["/users/", "/login/", "/audit/", "/users/export/"])
def test_a_session_cookie_the_app_never_issued_is_no_session(client, admin_a, cookie, url):
    client.raise_request_exception = False

    response = client.get(url, HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={cookie}")

    assert response.status_code in (200, 302), response.status_code
    if url != "/login/":
        assert response["Location"].startswith(reverse("login"))


def test_a_signed_in_session_with_a_nul_appended_is_signed_out_not_a_500(admin_a):
    client = client_for(admin_a)
    client.raise_request_exception = False
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/users/").status_code == 200

    response = client.get("/users/", HTTP_COOKIE=f'{settings.SESSION_COOKIE_NAME}="{key}\\000"')

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- lone surrogates in the filter forms ----------------------------------------------------------

# HTTP cannot carry one (Django decodes query strings and bodies with errors="replace"), but a
# form bound from anything else can: the User List's filters are also the export's, and any
# caller may bind them. A lone surrogate cannot be encoded for the database (a 500 on both).
SURROGATES = ["\ud800", "a\udcffb", "\udfff" * 300]
SURROGATE_IDS = ["high", "low-inside", "300-low"]


def _bound_request(rf, user, method: str, data: dict):
    request = getattr(rf, method.lower())("/")
    params = QueryDict(mutable=True)
    for key, value in data.items():
        params[key] = value
    setattr(request, method.upper(), params)
    request.user = user
    request.organization = user.organization
    request.session = {}
    request._dont_enforce_csrf_checks = True
    return request


@pytest.mark.parametrize("value", SURROGATES, ids=SURROGATE_IDS)
def test_the_user_filter_form_drops_a_lone_surrogate(org_a, value):
    form = UserFilterForm({"q": value, "role": "admin"}, organization=org_a)

    assert form.value("q") == ""
    assert form.value("role") == "admin"
    assert form.errors["q"]


@pytest.mark.parametrize("value", SURROGATES, ids=SURROGATE_IDS)
@pytest.mark.parametrize("field", ["actor", "target"])
def test_the_audit_filter_form_drops_a_lone_surrogate(org_a, field, value):
    form = AuditFilterForm({field: value, "action": "login"})

    assert not form.is_valid()
    assert set(form.errors) == {field}
    # What the view passes on (the valid values only) runs.
    values = {k: v for k, v in form.cleaned_data.items() if k not in form.errors and v}
    assert values == {"action": "login"}
    assert list(audit_list(organization=org_a, **values)) == []


@pytest.mark.parametrize("value", SURROGATES, ids=SURROGATE_IDS)
@pytest.mark.parametrize(
    ("view", "method", "field"),
    [
        (user_views.user_list, "GET", "q"),
        (export_views.export_users, "GET", "q"),
        (export_views.export_users, "POST", "q"),
    ],
    ids=["user-list", "export-page", "export-download"],
)
def test_a_lone_surrogate_in_a_filter_is_dropped_not_a_500(
    rf, admin_a, member_a, view, method, field, value
):
    data = {field: value, "encoding": "utf-8"} if method == "POST" else {field: value}

    response = view(_bound_request(rf, admin_a, method, data))
    if hasattr(response, "streaming_content"):
        body = b"".join(response.streaming_content)
        assert member_a.login_id.encode() in body  # the term was dropped: everyone is listed

    assert response.status_code == 200
