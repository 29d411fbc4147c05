"""Odd input that used to reach the database unchecked, and the
property-based tests of the User List's query parameters (docs/security.md: never a 5xx).

Where each class of input is stopped:
- query parameters and form fields: the forms. Django's CharField refuses a NUL with the
  field's own error, the filter forms' free-text fields refuse lone surrogates too, and every
  other field accepts only values from a fixed set;
- the session cookie: the session store (accounts.session_store), which takes only keys it
  could have issued;
- CSV files: exports.csv_format (tests/exports/test_import_hostile_files.py)."""

from urllib.parse import quote_from_bytes

import hypothesis
import pytest
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from audit.selectors import audit_list
from audit.views import AuditFilterForm
from exports import views as export_views
from permissions import catalog
from tests.factories import GrantFactory, UserFactory
from tests.security.conftest import client_for, consume
from users import selectors
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


# --- property: the User List's and the export's query parameters never make a 5xx --------------

LIST_PARAMETERS = ["q", "role", "status", "service", "sort", "dir", "per_page", "page"]
LIST_PARAMETERS += ["after", "before"]
FUZZ = hypothesis.settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _raw(text: str) -> bytes:
    """What a client could put on the wire for `text`: its UTF-8, lone surrogates included (a
    broken client or an attacker sends those bytes as easily as any others)."""
    return text.encode("utf-8", "surrogatepass")


# The bytes of a parameter's name or value, before percent-encoding.
ODD_BYTES = st.sampled_from(
    [
        b"",
        b"\x00",
        b"a\x00b",
        b"%00",
        b"\xed\xa0\x80",  # U+D800 encoded as if it were a character
        b"\xc0\x80",  # an overlong NUL
        b"\xff\xfe",
        b"9" * 40,
        b"-1",
        b"1e309",
        b"NaN",
        b"desc",
        b"services",
        b"role",
        b"last_login",
        b"25",
    ]
)
HUGE_BYTES = st.builds(
    lambda chunk, n: chunk * n,
    st.sampled_from([b"9", b"a", _raw("😀"), b"\x00", b"\xed\xb0\x80"]),
    st.integers(300, 5000),
)
VALUE_BYTES = st.one_of(
    st.text(max_size=40).map(_raw),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=4).map(_raw),
    st.binary(max_size=40),  # any bytes, most of them not UTF-8
    ODD_BYTES,
    HUGE_BYTES,
)
NAME_BYTES = st.sampled_from(LIST_PARAMETERS).map(str.encode) | st.text(max_size=8).map(_raw)


@pytest.fixture
def graded_users(org_a, admin_a):
    """Enough users for a second page under every sort, with several services each."""
    users = [
        UserFactory(organization=org_a, name=f"User {i % 7}", extension=str(300 + i))
        for i in range(30)
    ]
    for i, user in enumerate(users):
        for code in [catalog.PHONE, catalog.MONITORING][: i % 3]:
            GrantFactory(user=user, service=code)
    return users


KEYSET_CONTEXTS = [(sort, d) for sort in selectors.KEYSET_SORTS for d in ("asc", "desc")]


@pytest.fixture
def cursor_pool(admin_client_a, graded_users) -> list[bytes]:
    """A real Next and a real Previous cursor of every keyset sort and direction, in the order
    of KEYSET_CONTEXTS: valid signatures, to be reused under any other parameters."""
    pool = []
    for sort, direction in KEYSET_CONTEXTS:
        params = {"sort": sort, "dir": direction, "per_page": 25}
        first = admin_client_a.get(reverse("users:list"), params).context["page"]
        second = admin_client_a.get(
            reverse("users:list"), {**params, "after": first.next_cursor}
        ).context["page"]
        pool += [first.next_cursor.encode(), second.prev_cursor.encode()]
    return pool


def optional(strategy):
    return st.none() | strategy


# The case: the Next cursor of the role sort, reused under the services sort.
ROLE_NEXT = KEYSET_CONTEXTS.index(("role", "asc")) * 2


@FUZZ
@given(
    target=st.sampled_from(["list", "export page", "export download"]),
    sort=optional(st.sampled_from([k.encode() for k in selectors.SORTS]) | VALUE_BYTES),
    direction=optional(st.sampled_from([b"asc", b"desc"]) | VALUE_BYTES),
    cursor=optional(
        st.tuples(
            st.sampled_from([b"after", b"before"]), st.integers(0, 2 * len(KEYSET_CONTEXTS) - 1)
        )
    ),
    others=st.lists(st.tuples(NAME_BYTES, VALUE_BYTES), max_size=10),
)
@example(target="list", sort=b"services", direction=None, cursor=(b"after", ROLE_NEXT), others=[])
def test_any_query_parameters_never_make_a_5xx(
    admin_a, cursor_pool, target, sort, direction, cursor, others
):
    """Any names and values, of any length, any bytes (NUL, lone surrogates, not UTF-8 at all),
    repeated, and real cursors of every sort and direction under any other: the list and the
    export answer 200."""
    pairs = [(b"sort", sort), (b"dir", direction)]
    if cursor is not None:
        pairs.append((cursor[0], cursor_pool[cursor[1]]))
    pairs = [(k, v) for k, v in pairs if v is not None] + others
    query = "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs)
    client = client_for(admin_a)
    client.raise_request_exception = False

    if target == "list":
        response = client.get(f"{reverse('users:list')}?{query}")
    elif target == "export page":
        response = client.get(f"{reverse('exports:export')}?{query}")
    else:
        response = client.post(
            reverse("exports:export"),
            f"{query}&encoding=utf-8",
            content_type="application/x-www-form-urlencoded",
        )
        # The whole stream (the test client closes it at the end, freeing the transfer slot).
        assert consume(response).startswith("ログイン ID".encode())

    assert response.status_code == 200, (target, query[:300], response.status_code)


def test_the_nul_error_of_every_text_field_says_what_it_means_in_japanese():
    with translation.override("ja"), pytest.raises(ValidationError) as excinfo:
        forms.CharField().clean("山田\x00太郎")

    assert excinfo.value.messages == ["NUL 文字（制御文字）は使用できません。"]
