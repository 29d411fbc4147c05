"""Input handling (docs/security.md): arbitrary text and bytes never make a 500
or a partial write; names that carry markup are escaped on every page; search terms are literal;
POSTed fields outside the form are ignored, and no ModelForm takes fields wholesale."""

import ast
import itertools
import re
from html.parser import HTMLParser

import markupsafe
import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from audit.models import AuditEvent
from exports.models import ActiveTransfer
from permissions import catalog
from permissions.models import ServiceGrant
from permissions.services import field_name
from tests.analytics.factories import (
    ByUserDailyFactory,
    CallRecordFactory,
    MeetingFactory,
    MeetingParticipantFactory,
)
from tests.factories import PASSWORD, UserFactory
from tests.security.conftest import ROOT, app_sources, client_for, consume

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ---------------------------------------------------------------------------------

CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\u2028", "\u2029", "\u200b", "\ufeff", "\u202e"]
)
ODD = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\r\n",
        "😀" * 40,
        "𠮷野家",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "%",
        "_",
        "\\",
        "9" * 30,
        "-1",
        "0",
        "1e309",
        "NaN",
        "admin",
        "member",
        "__all__",
        "Asia/Tokyo",
        "../../etc/passwd",
        "x@a.example.com",
    ]
)
HUGE = st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(300, 60_000))
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.text(CONTROL, max_size=20),
    ODD,
    HUGE,
)


def form(fields) -> st.SearchStrategy[dict]:
    """Any subset of `fields`, each with any text."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, TEXT))


USER_FIELDS = [
    "login_id",
    "name",
    "password",
    "locale",
    "time_zone",
    "role",
    "extension",
    "is_active",
    "next",
    "add_another",
    *[field_name(s.code) for s in catalog.GRANTABLE],
]
LIST_FILTERS = ["q", "role", "status", "service", "sort", "dir", "per_page", "page"]
LIST_FILTERS += ["after", "before"]
AUDIT_FILTERS = ["actor", "target", "action", "date_from", "date_to", "page"]
ACTIVITY_FILTERS = ["user", "days", "page", "host", "participant"]

_ips = itertools.count(1)


def next_ip() -> str:
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def counts() -> dict[str, int]:
    return {
        "users": User.all_objects.count(),
        "grants": ServiceGrant.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def user_state(user: User) -> dict:
    return User.all_objects.filter(pk=user.pk).values().get()


# --- 1. Arbitrary text never makes a 500 or a partial write -------------------------------------


@pytest.mark.django_db
@FUZZ
@given(data=form(USER_FIELDS))
def test_add_user_form_with_any_text(admin_a, data):
    client = client_for(admin_a)
    before = counts()

    response = client.post(reverse("users:create"), data)

    assert response.status_code in (200, 302), response.status_code
    after = counts()
    if response.status_code == 302:  # accepted: one user and its record, nothing else
        assert after["users"] == before["users"] + 1
        assert after["audit"] == before["audit"] + 1
    else:
        assert after == before


@pytest.mark.django_db
@FUZZ
@given(data=form(USER_FIELDS))
def test_edit_user_form_with_any_text(admin_a, member_a, data):
    client = client_for(admin_a)
    before, member_before = counts(), user_state(member_a)

    response = client.post(reverse("users:edit", args=[member_a.pk]), data)

    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert counts() == before
        assert user_state(member_a) == member_before
    else:
        assert counts()["users"] == before["users"]


@pytest.mark.django_db
@FUZZ
@given(data=form(["username", "password", "next"]))
def test_sign_in_form_with_any_text(admin_a, data):
    client = Client()
    before = counts()

    response = client.post(reverse("login"), data, REMOTE_ADDR=next_ip())

    # 200: the form again; 429: a login ID locked by earlier examples.
    assert response.status_code in (200, 429), response.status_code
    assert "_auth_user_id" not in client.session
    after = counts()
    assert (after["users"], after["grants"]) == (before["users"], before["grants"])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()


@pytest.mark.django_db
@FUZZ
@given(
    data=form(["new_password1", "new_password2"]),
    old=st.one_of(st.just(PASSWORD), TEXT),
)
def test_password_change_form_with_any_text(member_a, data, old):
    client = client_for(member_a)
    before, member_before = counts(), user_state(member_a)

    response = client.post(reverse("password_change"), {**data, "old_password": old})

    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert counts() == before
        assert user_state(member_a)["password"] == member_before["password"]


@pytest.mark.django_db
@FUZZ
@given(params=form(LIST_FILTERS), url=st.sampled_from(["users:list", "exports:export"]))
def test_user_list_and_export_filters_with_any_text(admin_a, member_a, params, url):
    response = client_for(admin_a).get(reverse(url), params)

    assert response.status_code == 200, response.status_code


@pytest.mark.django_db
@FUZZ
@given(params=form(AUDIT_FILTERS))
def test_audit_filters_with_any_text(admin_a, member_a, params):
    response = client_for(admin_a).get(reverse("audit:list"), params)

    assert response.status_code == 200, response.status_code


@pytest.mark.django_db
@FUZZ
@given(
    params=form(ACTIVITY_FILTERS),
    url=st.sampled_from(["analytics:calls", "analytics:dashboard", "analytics:meetings"]),
)
def test_call_history_dashboard_and_meeting_filters_with_any_text(admin_a, member_a, params, url):
    response = client_for(admin_a).get(reverse(url), params)

    assert response.status_code == 200, response.status_code


def _uploadable(name: str) -> bool:
    """A name the test client can send (any other would fail in the test, not the app)."""
    from django.core.exceptions import SuspiciousFileOperation
    from django.core.files.utils import validate_file_name

    try:
        validate_file_name(name)
    except SuspiciousFileOperation:
        return False
    return "/" not in name and "\\" not in name


CSV_HEADER = b"Login ID,User name,Extension number,Locale,Time zone,Active\r\n"


@pytest.mark.django_db
@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=4000),
        st.builds(lambda b: CSV_HEADER + b, st.binary(max_size=4000)),
        st.builds(
            lambda t: CSV_HEADER + t.encode("utf-8", "surrogatepass"),
            st.text(st.characters(codec="utf-8"), max_size=2000),
        ),
    ),
    encoding=st.one_of(st.sampled_from(["utf-8", "shift_jis"]), TEXT),
    filename=st.one_of(
        st.just("users.csv"),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=80).filter(_uploadable),
    ),
)
def test_csv_import_upload_with_any_bytes(admin_a, member_a, content, encoding, filename):
    client = client_for(admin_a)
    before = counts()

    response = client.post(
        reverse("exports:import"),
        {
            "file": SimpleUploadedFile(filename, content, content_type="text/csv"),
            "encoding": encoding,
        },
    )

    # 302: the dry-run report (which writes no user); 200/400: a form error.
    assert response.status_code in (200, 302, 400), response.status_code
    assert counts() == before
    assert ActiveTransfer.objects.count() == 0
    if response.status_code == 302:
        assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_a_body_over_the_form_memory_limit_is_a_400_not_a_500(admin_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    before = counts()
    client = client_for(admin_a)
    client.raise_request_exception = False

    response = client.post(reverse("users:create"), {"name": "x" * 100_000, "login_id": "a@b.c"})

    assert response.status_code == 400
    assert counts() == before


# --- 2. Markup in names is escaped everywhere ---------------------------------------------------

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
PAYLOADS = [XSS_SCRIPT, XSS_IMG]


class Scripts(HTMLParser):
    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.scripts, self.handlers, self.images = [], [], []
        self.feed(body)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs).get("src"))
        if tag == "img":
            self.images.append(dict(attrs))
        self.handlers += [(tag, k) for k, _ in attrs if k.startswith("on")]


def assert_escaped(body: str, where: str, shown: tuple[str, ...] = ()) -> None:
    """No payload appears raw; those in `shown` appear escaped (so the page did render them);
    the only script is the application's own file and no element carries a handler."""
    for payload in PAYLOADS:
        assert payload not in body, (where, payload)
    for payload in shown:
        # Django's escaping or Jinja2's (markupsafe writes &#34; where Django writes &quot;).
        assert escape(payload) in body or str(markupsafe.escape(payload)) in body, (
            where,
            payload,
        )
    parsed = Scripts(body)
    assert parsed.scripts == ["/static/js/app.js"], (where, parsed.scripts)
    assert parsed.handlers == [] and parsed.images == [], where


def new_user(login_id: str, name: str) -> dict:
    return {
        "login_id": login_id,
        "name": name,
        "password": "Xs5#safe-pass",
        "locale": "en",
        "time_zone": "Asia/Tokyo",
        "role": "member",
        "extension": "",
    }


def flash(client) -> str:
    """The page after a redirect, where the flash message is shown."""
    return client.get(reverse("users:list")).content.decode()


@pytest.mark.django_db
def test_names_with_markup_are_escaped_on_every_page(admin_a, org_a):
    assert all(len(p) <= 30 for p in PAYLOADS)
    client = client_for(admin_a)
    users = []
    for i, payload in enumerate(PAYLOADS):
        response = client.post(reverse("users:create"), new_user(f"xss{i}@a.example.com", payload))
        assert response.status_code == 302
        assert_escaped(flash(client), f"flash after adding {payload}", (payload,))
        users.append(User.objects.get(login_id=f"xss{i}@a.example.com"))
    script_user, img_user = users
    for user in users:
        CallRecordFactory(user=user)
        ByUserDailyFactory(user=user)
    meeting = MeetingFactory(host=script_user, uploader=img_user, title=XSS_IMG)
    MeetingParticipantFactory(meeting=meeting, user=img_user)
    MeetingParticipantFactory(meeting=meeting, user=None, guest_name=XSS_SCRIPT)

    both = tuple(PAYLOADS)
    pages = {
        "user list": (reverse("users:list"), both),
        "user list searched": (reverse("users:list") + "?q=%3Cscript%3E", (XSS_SCRIPT,)),
        "audit log": (reverse("audit:list"), both),
        "call history": (reverse("analytics:calls"), both),
        "dashboard": (reverse("analytics:dashboard"), both),
        "meetings": (reverse("analytics:meetings"), both),
        "meeting": (reverse("analytics:meeting", args=[meeting.pk]), both),
    }
    for user in users:
        for view in ("edit", "deactivate", "delete"):
            url = reverse(f"users:{view}", args=[user.pk])
            pages[f"{view} {user.name}"] = (url, (user.name,))
    for where, (url, shown) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        assert_escaped(response.content.decode(), where, shown)

    # The flash messages of the other actions name the user too.
    url = reverse("users:deactivate", args=[img_user.pk])
    assert client.post(url).status_code == 302
    assert_escaped(flash(client), "flash after deactivating", (XSS_IMG,))
    assert client.post(reverse("users:activate", args=[img_user.pk])).status_code == 302
    assert_escaped(flash(client), "flash after activating", (XSS_IMG,))
    edit = {**new_user(img_user.login_id, XSS_SCRIPT), "password": "", "is_active": "on"}
    assert client.post(reverse("users:edit", args=[img_user.pk]), edit).status_code == 302
    assert_escaped(flash(client), "flash after editing", (XSS_SCRIPT,))
    assert client.post(reverse("users:delete", args=[script_user.pk])).status_code == 302
    assert_escaped(flash(client), "flash after deleting", (XSS_SCRIPT,))
    # The deleted user's history still shows the name, escaped.
    for url in (reverse("analytics:calls"), reverse("analytics:meeting", args=[meeting.pk])):
        assert_escaped(client.get(url).content.decode(), f"{url} after deleting", (XSS_SCRIPT,))


@pytest.mark.django_db
def test_the_search_term_and_filters_are_escaped_where_they_are_echoed(admin_a):
    client = client_for(admin_a)
    for payload in PAYLOADS:
        for url in (reverse("users:list"), reverse("exports:export"), reverse("audit:list")):
            response = client.get(url, {"q": payload, "actor": payload, "target": payload})
            assert response.status_code == 200
            assert_escaped(response.content.decode(), f"{url} echo", (payload,))


@pytest.mark.django_db
def test_markup_in_an_imported_file_is_escaped_in_the_report(admin_a):
    client = client_for(admin_a)
    data = (
        "Login ID,User name,Locale,Time zone,Active\r\n"
        f'xss@a.example.com,"{XSS_IMG.replace(chr(34), chr(34) * 2)}",0,Asia/Tokyo,1\r\n'
        f"{XSS_SCRIPT},{XSS_SCRIPT},0,Asia/Tokyo,1\r\n"
    ).encode()
    response = client.post(
        reverse("exports:import"),
        {"file": SimpleUploadedFile("x.csv", data, "text/csv"), "encoding": "utf-8"},
    )
    assert response.status_code == 302
    report = client.get(response["Location"])
    assert report.status_code == 200
    # The report lists login IDs (the invalid one is quoted in its error), not names.
    assert_escaped(report.content.decode(), "import report", (XSS_SCRIPT,))


# --- 3. Search terms are literal ----------------------------------------------------------------

LITERALS = {
    "%": "Sale 100%",
    "_": "under_score",
    "\\": "back\\slash",
    "' OR 1=1 --": "x' OR 1=1 -- y",
}
LONG_TERM = "z" * 10_000


@pytest.fixture
def literal_users(org_a, admin_a):
    users = {}
    for i, (term, name) in enumerate(LITERALS.items()):
        users[term] = UserFactory(organization=org_a, login_id=f"lit{i}@a.example.com", name=name)
    UserFactory(organization=org_a, login_id="plain@a.example.com", name="Plain name")
    return users


def listed_login_ids(response) -> set[str]:
    body = response.content.decode()
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return set(re.findall(r"((?:lit\d|plain|admin)@a\.example\.com)", tbody))


def exported_login_ids(response) -> set[str]:
    text = consume(response).decode("utf-8-sig")
    return set(re.findall(r"^([^,\r\n]+@a\.example\.com),", text, re.M))


def expected_ids(term: str, literal_users: dict) -> set[str]:
    return {u.login_id for t, u in literal_users.items() if term in u.name}


@pytest.mark.django_db
@pytest.mark.parametrize("term", [*LITERALS, LONG_TERM], ids=[*LITERALS, "10000-chars"])
def test_user_list_and_export_searches_are_literal(admin_a, literal_users, term):
    client = client_for(admin_a)
    expected = expected_ids(term, literal_users)

    listed = client.get(reverse("users:list"), {"q": term})
    exported = client.post(reverse("exports:export"), {"q": term, "encoding": "utf-8"})

    assert listed.status_code == 200
    assert listed_login_ids(listed) == expected
    assert exported.status_code == 200
    assert exported_login_ids(exported) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["actor", "target"])
@pytest.mark.parametrize("term", [*LITERALS, LONG_TERM], ids=[*LITERALS, "10000-chars"])
def test_audit_text_filters_are_literal(admin_a, org_a, field, term):
    from audit.services import Actor, audit_record

    labels = [*LITERALS.values(), "plain label"]
    for label in labels:
        audit_record(
            actor=Actor(user=None, label=label),
            action=AuditEvent.Action.USER_UPDATE,
            organization=org_a,
            target_label=label,
        )
    client = client_for(admin_a)

    response = client.get(reverse("audit:list"), {field: term})

    assert response.status_code == 200
    tbody = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    shown = {escape(label) for label in labels if escape(label) in tbody}
    assert shown == {escape(label) for label in labels if term in label}, (field, term[:20])


# --- 4. Mass assignment -------------------------------------------------------------------------

FOREIGN_HASH = make_password("Zz9!known-to-attacker", hasher="pbkdf2_sha256")


def extra_fields(org_b) -> dict:
    return {
        "organization": str(org_b.pk),
        "organization_id": str(org_b.pk),
        "is_superuser": "1",
        "is_staff": "1",
        "deleted_at": "2020-01-01T00:00:00Z",
        "must_change_password": "0",
        "last_login": "2020-01-01T00:00:00Z",
        "login_id_key": "admin@b.example.com",
    }


@pytest.mark.django_db
def test_add_ignores_fields_outside_the_form_and_a_posted_hash_is_only_a_password(
    admin_a, org_a, org_b, admin_b
):
    client = client_for(admin_a)
    b_before = user_state(admin_b)
    data = {**new_user("mass@a.example.com", "Mass"), "password": FOREIGN_HASH}
    data.update(extra_fields(org_b))

    response = client.post(reverse("users:create"), data)

    # The hash string passes the published rule, so it is taken as a plain temporary password
    # and hashed again: it is never stored as the encoded password itself.
    assert response.status_code == 302
    user = User.all_objects.get(login_id_key="mass@a.example.com")
    assert user.password != FOREIGN_HASH
    assert user.check_password(FOREIGN_HASH)
    assert not user.check_password("Zz9!known-to-attacker")
    assert user.organization_id == org_a.pk
    assert user.must_change_password is True
    assert user.deleted_at is None and user.last_login is None
    assert user.is_superuser is False and user.is_staff is False
    assert user_state(admin_b) == b_before


@pytest.mark.django_db
def test_edit_ignores_fields_outside_the_form(admin_a, member_a, org_a, org_b, admin_b):
    client = client_for(admin_a)
    b_before = user_state(admin_b)
    data = {
        **new_user(member_a.login_id, member_a.name),
        "password": "Ed7#temp-pass",
        "locale": member_a.locale,
        "is_active": "on",
        **extra_fields(org_b),
    }

    response = client.post(reverse("users:edit", args=[member_a.pk]), data)

    assert response.status_code == 302
    member = User.all_objects.get(pk=member_a.pk)
    assert member.organization_id == org_a.pk
    assert member.check_password("Ed7#temp-pass")  # the temporary password was set ...
    assert member.must_change_password is True  # ... and stays temporary despite the 0
    assert member.deleted_at is None
    assert member.login_id_key == "member@a.example.com"
    assert user_state(admin_b) == b_before


def test_no_model_form_takes_all_fields_or_excludes_some():
    offending = []
    for path in app_sources("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "Meta":
                for stmt in node.body:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                    for target in targets:
                        name = getattr(target, "id", None)
                        value = getattr(stmt.value, "value", None)
                        if name == "exclude" or (name == "fields" and value == "__all__"):
                            offending.append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
            if isinstance(node, ast.Call) and (
                getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            ).endswith("modelform_factory"):
                for kw in node.keywords:
                    if kw.arg == "exclude" or getattr(kw.value, "value", None) == "__all__":
                        offending.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offending == []
    assert any(p.name == "forms.py" for p in app_sources("*.py"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [
        b"Login ID,User name,Extension number,Locale,Time zone,Active\r\n\x00",
        b"\x00" * 62,
    ],
    ids=["nul-after-the-header", "only-nul"],
)
def test_a_csv_upload_with_a_nul_byte_is_a_form_error(admin_a, content):
    """Regression (found by the fuzz test above on PostgreSQL): a NUL reached the import
    report, which the database cannot store."""
    before = counts()

    response = client_for(admin_a).post(
        reverse("exports:import"),
        {
            "file": SimpleUploadedFile("users.csv", content, content_type="text/csv"),
            "encoding": "utf-8",
        },
    )

    # The report (or the form) says why; nothing is written.
    assert response.status_code in (200, 302, 400)
    shown = (
        client_for(admin_a).get(response["Location"]) if response.status_code == 302 else response
    )
    assert shown.status_code == 200
    html = shown.content.decode()
    # A NUL in a cell is refused naming its line and column; NULs everywhere read as UTF-16.
    assert "NUL" in html or "UTF-16" in html
    assert counts() == before
