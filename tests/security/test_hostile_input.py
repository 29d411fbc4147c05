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
from django.urls import reverse

from tests.security.conftest import client_for

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
