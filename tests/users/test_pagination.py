"""Keyset paging of the User List: Next/Previous cursors walk every user exactly once, in order,
in both directions, whatever the sort; a tampered cursor is ignored; counts stop at the cap."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from accounts import pagination
from accounts.models import User
from permissions import catalog
from tests.factories import GrantFactory, UserFactory
from users import selectors

LIST_URL = reverse("users:list")


@pytest.fixture
def crowd(org_a, admin_a):
    names = ["佐藤", "Sato", "sato", "鈴木", "Abe", "abe", "Zed"]
    return [
        UserFactory(
            organization=org_a,
            login_id=f"p{i:02d}@crowd.example.com",
            name=names[i % len(names)],  # many ties: the id breaks them
            extension=str(300 + (i * 7) % 40),
        )
        for i in range(40)
    ]


def _link(response, rel):
    match = re.search(rf'<a href="([^"]+)" rel="{rel}"', response.content.decode())
    return (
        None
        if match is None
        else {k: v[0] for k, v in parse_qs(urlsplit(unescape(match.group(1))).query).items()}
    )


def _ids(response):
    return [user.id for user in response.context["page"].rows]


@pytest.mark.parametrize("sort", ["name", "login_id", "extension", "role"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_next_cursors_walk_every_user_once_in_order(admin_client_a, crowd, sort, direction):
    params = {"sort": sort, "dir": direction, "per_page": 25}
    full = admin_client_a.get(LIST_URL, {**params, "per_page": 100})
    expected = _ids(full)
    assert len(expected) == 41

    seen, query, pages = [], params, 0
    while query is not None:
        response = admin_client_a.get(LIST_URL, query)
        assert response.status_code == 200
        seen += _ids(response)
        query = _link(response, "next")
        pages += 1
        assert pages < 10
    assert seen == expected

    # And back: Previous from the last cursor page gives the page before it.
    last_query = {**params}
    response = admin_client_a.get(LIST_URL, last_query)
    forward = _link(response, "next")
    second = admin_client_a.get(LIST_URL, forward)
    back = admin_client_a.get(LIST_URL, _link(second, "prev"))
    assert _ids(back) == expected[:25]


def test_a_tampered_cursor_is_ignored_and_page_one_is_shown(admin_client_a, crowd):
    response = admin_client_a.get(LIST_URL, {"after": "not-a-signed-cursor", "per_page": 25})
    assert response.status_code == 200
    assert response.context["page"].number == 1


def test_a_cursor_for_another_sort_is_ignored(admin_client_a, crowd):
    first = admin_client_a.get(LIST_URL, {"sort": "role", "per_page": 25})
    cursor = _link(first, "next")["after"]  # three values: role, name, id
    response = admin_client_a.get(LIST_URL, {"sort": "name", "after": cursor, "per_page": 25})
    assert response.status_code == 200
    assert response.context["page"].number == 1


def test_sorts_without_a_keyset_page_by_number(admin_client_a, crowd):
    first = admin_client_a.get(LIST_URL, {"sort": "last_login", "per_page": 25})
    assert _link(first, "next") == {"sort": "last_login", "per_page": "25", "page": "2"}


def test_capped_count_reports_the_cap(org_a):
    UserFactory.create_batch(12, organization=org_a)
    qs = User.objects.filter(organization=org_a)
    assert pagination.capped_count(qs, cap=10) == (10, True)
    assert pagination.capped_count(qs, cap=12) == (12, False)


def test_count_query_is_limited_to_the_cap(org_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserFactory.create_batch(3, organization=org_a)
    with CaptureQueriesContext(connection) as ctx:
        pagination.capped_count(User.objects.filter(organization=org_a))
    assert len(ctx.captured_queries) == 1
    assert "LIMIT 10001" in ctx.captured_queries[0]["sql"]


def _result_count(response) -> str:
    match = re.search(r'<p class="result-count"[^>]*>(.*?)</p>', response.content.decode(), re.S)
    return " ".join(match.group(1).split())


def test_the_unfiltered_list_shows_the_exact_total_past_the_cap_without_counting(
    admin_client_a, crowd, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client_a.get(LIST_URL, {"per_page": 25})
    # 41 users, past the cap of 10: the seat counter gives the exact number, no COUNT runs.
    assert _result_count(response) == "全 41 名中 1〜25 名を表示"  # the admin reads Japanese
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)

    # Filtered, the count is capped as before.
    response = admin_client_a.get(LIST_URL, {"per_page": 25, "status": "active"})
    assert _result_count(response) == "10 名以上のうち 1〜25 名を表示"


def test_a_cursor_page_says_plus_only_when_the_total_is_capped(admin_client_a, crowd, monkeypatch):
    first = admin_client_a.get(LIST_URL, {"per_page": 25})
    second = admin_client_a.get(LIST_URL, _link(first, "next"))
    assert _result_count(second) == "41 名のうち、続きの 16 名を表示"

    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    query = {"per_page": 25, "status": "active"}
    first = admin_client_a.get(LIST_URL, query)
    second = admin_client_a.get(LIST_URL, _link(first, "next"))
    assert _result_count(second) == "10 名以上のうち、続きの 16 名を表示"


# --- Cursors are bound to the sort and direction they were made for ----------------------------

CONTEXTS = [(sort, direction) for sort in selectors.SORTS for direction in ("asc", "desc")]
KEYSET_CONTEXTS = [(s, d) for s, d in CONTEXTS if s in selectors.KEYSET_SORTS]


@pytest.fixture
def graded_crowd(crowd, org_a):
    """The crowd with a few services each, so that every keyset sort has several distinct
    values (a role cursor read as a service count was a 500)."""
    for i, user in enumerate(crowd):
        for code in [catalog.PHONE, catalog.MONITORING, catalog.CALL_HISTORY][: i % 4]:
            GrantFactory(user=user, service=code)
    return crowd


def test_a_role_cursor_reused_under_the_services_sort_is_not_a_500(admin_client_a, graded_crowd):
    # The reproduction: the role cursor's values were compared with service counts.
    admin_client_a.raise_request_exception = False
    first = admin_client_a.get(LIST_URL, {"sort": "role", "per_page": 25})
    after = _link(first, "next")["after"]

    response = admin_client_a.get(LIST_URL, {"sort": "services", "after": after, "per_page": 25})

    assert response.status_code == 200
    assert response.context["page"].number == 1


@pytest.mark.parametrize(
    ("sort", "direction"), KEYSET_CONTEXTS, ids=[f"{s}-{d}" for s, d in KEYSET_CONTEXTS]
)
def test_a_cursor_from_another_sort_or_direction_is_ignored(
    admin_client_a, graded_crowd, sort, direction
):
    params = {"sort": sort, "dir": direction, "per_page": 25}
    first = admin_client_a.get(LIST_URL, params)
    after = _link(first, "next")["after"]
    second = admin_client_a.get(LIST_URL, {**params, "after": after})
    before = _link(second, "prev")["before"]
    # In its own context each cursor pages, as before.
    assert second.context["page"].number is None
    assert _ids(admin_client_a.get(LIST_URL, {**params, "before": before})) == _ids(first)

    for other_sort, other_direction in CONTEXTS:
        if (other_sort, other_direction) == (sort, direction):
            continue
        other = {"sort": other_sort, "dir": other_direction, "per_page": 25}
        page_one = _ids(admin_client_a.get(LIST_URL, other))
        for key, cursor in (("after", after), ("before", before)):
            response = admin_client_a.get(LIST_URL, {**other, key: cursor})
            where = f"{key} cursor of {sort} {direction} under {other_sort} {other_direction}"
            assert response.status_code == 200, where
            assert response.context["page"].number == 1, where
            assert _ids(response) == page_one, where


def test_decode_cursor_refuses_a_cursor_made_for_other_columns_or_direction():
    token = pagination.encode_cursor(["member", "Abe", 7], columns=("role", "name", "id"))

    assert pagination.decode_cursor(token, columns=("role", "name", "id")) == ["member", "Abe", 7]
    assert pagination.decode_cursor(token, columns=("service_count", "name", "id")) is None
    assert pagination.decode_cursor(token, columns=("extension", "name", "id")) is None
    assert pagination.decode_cursor(token, columns=("role", "name", "id"), descending=True) is None
    assert pagination.decode_cursor(token, columns=("name", "id")) is None


def test_the_export_takes_no_cursor_a_list_cursor_changes_nothing(admin_client_a, graded_crowd):
    first = admin_client_a.get(LIST_URL, {"sort": "role", "per_page": 25})
    after = _link(first, "next")["after"]
    url = reverse("exports:export")

    plain = admin_client_a.post(url, {"sort": "services", "encoding": "utf-8"})
    with_cursor = admin_client_a.post(
        url, {"sort": "services", "encoding": "utf-8", "after": after, "before": after}
    )

    assert admin_client_a.get(url, {"sort": "services", "after": after}).status_code == 200
    assert plain.status_code == with_cursor.status_code == 200
    assert b"".join(with_cursor.streaming_content) == b"".join(plain.streaming_content)
