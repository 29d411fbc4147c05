"""The User List (/users/): columns, tenant scoping, search, filters, sort, pagination, the seat
meter, access rules and the number of queries a page costs."""

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from permissions import catalog
from tests.factories import AdminFactory, GrantFactory, UserFactory

LIST_URL = reverse("users:list")


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


# --- helpers ------------------------------------------------------------------------------------


def _tbody(response) -> str:
    content = response.content.decode()
    return content.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def row_html(response) -> dict[str, str]:
    """{login ID: the row's HTML} for every user row of the table."""
    rows = {}
    for chunk in _tbody(response).split("<tr")[1:]:
        match = re.search(r'<td class="col-login_id"[^>]*>(.*?)</td>', chunk, re.S)
        if match:
            rows[html.unescape(match.group(1))] = chunk
    return rows


def login_ids(response) -> list[str]:
    """Login IDs of the table's rows, in the order shown."""
    return [
        html.unescape(m)
        for m in re.findall(r'<td class="col-login_id"[^>]*>(.*?)</td>', _tbody(response), re.S)
    ]


def pagination_links(response) -> dict[str, dict[str, list[str]]]:
    """{link text: parsed query string} of the pagination nav."""
    content = response.content.decode()
    match = re.search(r'<nav class="pagination".*?</nav>', content, re.S)
    if not match:
        return {}
    links = {}
    for href, text in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>([^<]*)</a>', match.group(0)):
        links[text.strip()] = parse_qs(urlsplit(html.unescape(href)).query)
    return links


def seat_meter_values(response) -> dict[str, tuple[int, int]]:
    """{label: (used, limit)} as the seat meter shows them."""
    content = response.content.decode()
    meter = re.search(r'<dl class="seat-meter".*?</dl>', content, re.S).group(0)
    values = {}
    for label, used, limit in re.findall(
        r"<dt>(.*?)</dt>\s*<dd>.*?(\d+) / (\d+)\s*</dd>", meter, re.S
    ):
        values[html.unescape(label)] = (int(used), int(limit))
    return values


# --- access -------------------------------------------------------------------------------------


def test_admin_sees_the_user_list(admin_client_a, admin_a, member_a):
    response = admin_client_a.get(LIST_URL)

    assert response.status_code == 200
    assert response.templates[0].name == "users/user_list.html"
    assert set(login_ids(response)) == {admin_a.login_id, member_a.login_id}
    assert "no-store" in response["Cache-Control"]


def test_member_gets_403_and_sees_no_user(member_client_a, admin_a, member_a):
    users_before = list(User.objects.order_by("pk").values_list("pk", "is_active", "role"))

    response = member_client_a.get(LIST_URL)

    assert response.status_code == 403
    assert admin_a.login_id not in response.content.decode()
    assert list(User.objects.order_by("pk").values_list("pk", "is_active", "role")) == users_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "expected_next"),
    [
        ("/users/", "/users/"),
        ("/users/?q=abc&page=2", "/users/%3Fq%3Dabc%26page%3D2"),
    ],
)
def test_anonymous_is_sent_to_sign_in(client, path, expected_next):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={expected_next}"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_list_accepts_get_only(admin_client_a, member_a, method):
    count_before = User.objects.count()

    response = getattr(admin_client_a, method)(LIST_URL, {"name": "x"})

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert User.objects.count() == count_before


# --- columns and scoping --------------------------------------------------------------------------


def test_rows_show_name_login_id_role_status_services_extension_and_last_login(
    admin_client_a, admin_a, member_a
):
    last_login = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
    User.objects.filter(pk=member_a.pk).update(extension="1234", last_login=last_login)
    GrantFactory(user=member_a, service=catalog.PHONE)
    GrantFactory(user=member_a, service=catalog.CALL_HISTORY)
    newcomer = UserFactory(organization=member_a.organization, login_id="new@a.example.com")

    response = admin_client_a.get(LIST_URL)

    rows = row_html(response)
    member_row = rows[member_a.login_id]
    assert "Member A" in member_row
    assert '<span class="badge">Member</span>' in member_row
    assert '<span class="badge badge-active">Active</span>' in member_row
    assert 'class="svc svc-phone svc-on"' in member_row
    assert 'class="svc svc-call_history svc-on"' in member_row
    assert 'class="svc svc-dashboard"' in member_row  # shown, not enabled
    assert '<td class="col-extension" data-label="Extension">1234</td>' in member_row
    # Shown in the admin's time zone (Asia/Tokyo, UTC+9).
    assert '<time datetime="2024-05-01T18:30:00+09:00">' in member_row

    admin_row = rows[admin_a.login_id]
    assert "Admin A" in admin_row
    assert '<span class="badge badge-admin">Admin</span>' in admin_row
    assert 'class="svc svc-phone"' in admin_row
    assert "svc-on" not in admin_row
    assert '<td class="col-extension" data-label="Extension">—</td>' in admin_row

    newcomer_row = rows[newcomer.login_id]
    assert "Never" in newcomer_row
    assert "<time" not in newcomer_row


def test_deactivated_users_are_listed_and_marked(admin_client_a, org_a, member_a):
    gone = UserFactory(organization=org_a, login_id="gone@a.example.com", is_active=False)

    response = admin_client_a.get(LIST_URL)

    rows = row_html(response)
    assert gone.login_id in rows
    assert rows[gone.login_id].startswith(' class="row-inactive"')
    assert '<span class="badge badge-inactive">Deactivated</span>' in rows[gone.login_id]
    assert "row-inactive" not in rows[member_a.login_id]
    # The row menu offers Activate, not Deactivate.
    assert reverse("users:activate", args=[gone.pk]) in rows[gone.login_id]
    assert reverse("users:deactivate", args=[gone.pk]) not in rows[gone.login_id]


def test_row_menu_offers_edit_and_deactivate_but_not_deactivating_yourself(
    admin_client_a, admin_a, member_a
):
    rows = row_html(admin_client_a.get(LIST_URL))

    assert reverse("users:edit", args=[member_a.pk]) in rows[member_a.login_id]
    assert reverse("users:deactivate", args=[member_a.pk]) in rows[member_a.login_id]
    assert reverse("users:activate", args=[member_a.pk]) not in rows[member_a.login_id]
    assert reverse("users:edit", args=[admin_a.pk]) in rows[admin_a.login_id]
    assert reverse("users:deactivate", args=[admin_a.pk]) not in rows[admin_a.login_id]


def test_other_organizations_users_are_absent(admin_client_a, admin_a, admin_b, org_b):
    other = UserFactory(organization=org_b, login_id="other@b.example.com", name="Zed Other")

    listed = admin_client_a.get(LIST_URL)
    searched = admin_client_a.get(LIST_URL, {"q": "b.example.com"})

    for response in (listed, searched):
        content = response.content.decode()
        assert admin_b.login_id not in content
        assert other.login_id not in content
        assert "Zed Other" not in content
    assert login_ids(listed) == [admin_a.login_id]
    assert login_ids(searched) == []


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("taro", {"taro@a.example.com"}),  # name, other case
        ("YAMADA", {"taro@a.example.com"}),  # name, other case
        ("HANAKO@A.EXAMPLE", {"hanako@a.example.com"}),  # login ID, other case
        ("nako@a", {"hanako@a.example.com"}),  # login ID substring
        ("4455", {"hanako@a.example.com"}),  # extension substring
        ("201", {"taro@a.example.com"}),  # extension substring
        ("  taro  ", {"taro@a.example.com"}),  # surrounding whitespace trimmed
        ("nobody-matches", set()),
    ],
)
def test_search_is_case_insensitive_substring_of_name_login_id_and_extension(
    admin_client_a, org_a, term, expected
):
    UserFactory(
        organization=org_a, login_id="taro@a.example.com", name="Taro Yamada", extension="2010"
    )
    UserFactory(
        organization=org_a, login_id="Hanako@A.example.com", name="Hanako Suzuki", extension="44556"
    )

    response = admin_client_a.get(LIST_URL, {"q": term})

    assert response.status_code == 200
    assert {lid.lower() for lid in login_ids(response)} == expected


@pytest.mark.parametrize(
    ("term", "expected_names"),
    [
        ("%", {"Sale 100%"}),
        ("0%", {"Sale 100%"}),
        ("_", {"under_score"}),
        ("r_s", {"under_score"}),
        ("\\", {"back\\slash"}),
        ("'", {"O'Brien"}),
        ('"', {'Say "hi"'}),
        ("%%", set()),
        ("a%e", set()),  # % is not a wildcard: "Sale" does not match
        ("u_d", set()),  # _ is not a wildcard: "und" does not match
    ],
)
def test_search_terms_with_like_wildcards_and_quotes_are_literal(
    admin_client_a, org_a, term, expected_names
):
    names = ["Sale 100%", "under_score", "back\\slash", "O'Brien", 'Say "hi"', "Plain und"]
    for i, name in enumerate(names):
        UserFactory(organization=org_a, login_id=f"lit{i}@a.example.com", name=name)

    response = admin_client_a.get(LIST_URL, {"q": term})

    assert response.status_code == 200
    shown = {html.unescape(m) for m in re.findall(r'">([^<]*)</a></td>', _tbody(response))}
    assert shown == expected_names


def test_search_term_with_percent_in_login_id_is_found_literally(admin_client_a, org_a):
    UserFactory(organization=org_a, login_id="100%off@a.example.com", name="Percent")
    UserFactory(organization=org_a, login_id="100off@a.example.com", name="No percent")

    response = admin_client_a.get(LIST_URL, {"q": "100%"})

    assert login_ids(response) == ["100%off@a.example.com"]


# --- filters ------------------------------------------------------------------------------------


@pytest.fixture
def filter_users(org_a, admin_a, member_a):
    phone_user = UserFactory(organization=org_a, login_id="phone@a.example.com")
    GrantFactory(user=phone_user, service=catalog.PHONE)
    inactive = UserFactory(organization=org_a, login_id="inactive@a.example.com", is_active=False)
    inactive_admin = AdminFactory(
        organization=org_a, login_id="exadmin@a.example.com", is_active=False
    )
    GrantFactory(user=inactive_admin, service=catalog.PHONE)
    hosted = UserFactory(organization=org_a, login_id="hosted@a.example.com")
    GrantFactory(user=hosted, service=catalog.MEETING_ACCESS, level=catalog.MEETING_ACCESS_HOST)
    return {
        "admin": admin_a.login_id,
        "member": member_a.login_id,
        "phone": phone_user.login_id,
        "inactive": inactive.login_id,
        "inactive_admin": inactive_admin.login_id,
        "hosted": hosted.login_id,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"role": "admin"}, {"admin", "inactive_admin"}),
        ({"role": "member"}, {"member", "phone", "inactive", "hosted"}),
        ({"status": "active"}, {"admin", "member", "phone", "hosted"}),
        ({"status": "inactive"}, {"inactive", "inactive_admin"}),
        ({"service": "phone"}, {"phone", "inactive_admin"}),
        ({"service": "meeting_access"}, {"hosted"}),
        ({"service": "admin"}, {"admin", "inactive_admin"}),
        ({"service": "phone", "status": "active"}, {"phone"}),
        ({"role": "admin", "status": "inactive", "service": "phone"}, {"inactive_admin"}),
        ({"role": "member", "q": "phone"}, {"phone"}),
    ],
)
def test_filters_by_role_status_and_service(admin_client_a, filter_users, params, expected):
    response = admin_client_a.get(LIST_URL, params)

    assert response.status_code == 200
    assert set(login_ids(response)) == {filter_users[key] for key in expected}


def test_overlong_search_is_cut_to_254_characters_and_matches_literally(
    admin_client_a, filter_users
):
    response = admin_client_a.get(LIST_URL, {"q": "x" * 500})

    assert response.status_code == 200
    assert response.context["params"]["q"] == "x" * 254
    assert login_ids(response) == []


@pytest.mark.parametrize(
    "query",
    [
        "sort=bogus",
        "dir=sideways",
        "sort=password&dir=desc",
        "role=superuser",
        "status=zombie",
        "service=nope",
        "service=__all__",
        "per_page=7",
        "per_page=-1",
        "per_page=abc",
        "page=abc",
        "page=0",
        "page=-3",
        "page=99999999999999999999",
        "page=1.5",
        "q=%00",
        "role=admin&role=member",
        "sort=name&sort=bogus",
    ],
)
def test_unknown_sort_filter_and_page_values_are_ignored(admin_client_a, filter_users, query):
    response = admin_client_a.get(f"{LIST_URL}?{query}")

    assert response.status_code == 200
    shown = login_ids(response)
    assert shown, "the list still shows users"
    # Whatever was ignored, what is shown is org A's users only.
    assert set(shown) <= set(filter_users.values())


def test_unknown_values_fall_back_to_defaults(admin_client_a, filter_users):
    baseline = admin_client_a.get(LIST_URL)

    response = admin_client_a.get(
        LIST_URL, {"sort": "bogus", "dir": "up", "role": "x", "status": "y", "page": "zz"}
    )

    assert login_ids(response) == login_ids(baseline)
    assert len(login_ids(response)) == len(filter_users)


def test_page_beyond_the_last_shows_the_last_page(admin_client_a, org_a, admin_a, member_a):
    UserFactory.create_batch(30, organization=org_a)

    response = admin_client_a.get(LIST_URL, {"per_page": "25", "page": "999"})

    assert response.status_code == 200
    assert len(login_ids(response)) == 32 - 25


# --- sorting ------------------------------------------------------------------------------------

SORT_SEARCH = "sort.example"
_T = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)

# Created in this order (so ids follow it). Values repeat so that every column has ties (blank
# extensions: a filled one is unique), and the ties' id order differs from their login-ID order.
SORT_ROWS = [
    # name, login ID local part, role, active, grants, extension, last login
    ("Delta", "dsrt", "member", True, 2, "300", _T + dt.timedelta(days=2)),
    ("Bravo", "fsrt", "member", True, 1, "", _T),
    ("Bravo", "bsrt", "admin", True, 0, "", None),
    ("Alpha", "csrt", "member", True, 2, "", _T + dt.timedelta(days=2)),
    ("Charlie", "asrt", "admin", False, 0, "200", None),
    ("Bravo", "esrt", "member", False, 1, "100", _T),
]
_GRANT_CODES = [catalog.PHONE, catalog.CALL_HISTORY, catalog.DASHBOARD]


@pytest.fixture
def sort_users(org_a):
    users = []
    for name, local, role, active, grants, extension, last_login in SORT_ROWS:
        user = UserFactory(
            organization=org_a,
            login_id=f"{local}@{SORT_SEARCH}.com",
            name=name,
            role=role,
            is_active=active,
            extension=extension,
        )
        User.objects.filter(pk=user.pk).update(last_login=last_login)
        for code in _GRANT_CODES[:grants]:
            GrantFactory(user=user, service=code)
        users.append(
            {
                "id": user.pk,
                "login_id": user.login_id,
                "name": name,
                "role": role,
                "active": active,
                "grants": grants,
                "extension": extension,
                "last_login": last_login,
            }
        )
    return users


SORT_KEYS = {
    "name": lambda u: (u["name"], u["id"]),
    "login_id": lambda u: (u["login_id"].lower(), u["id"]),
    "role": lambda u: (u["role"], u["name"], u["id"]),
    "status": lambda u: (not u["active"], u["name"], u["id"]),  # active first
    "services": lambda u: (u["grants"], u["name"], u["id"]),
    "extension": lambda u: (u["extension"], u["name"], u["id"]),
    # never signed in first
    "last_login": lambda u: (
        u["last_login"] is not None,
        u["last_login"] or _T,
        u["name"],
        u["id"],
    ),
}


@pytest.mark.parametrize("key", list(SORT_KEYS))
def test_sort_on_each_column_ascending_with_ties_broken_by_id(admin_client_a, sort_users, key):
    expected = [u["login_id"] for u in sorted(sort_users, key=SORT_KEYS[key])]

    response = admin_client_a.get(LIST_URL, {"q": SORT_SEARCH, "sort": key, "dir": "asc"})

    assert response.status_code == 200
    assert login_ids(response) == expected
    assert re.search(
        rf'<th scope="col" class="col-{key}" aria-sort="ascending">', response.content.decode()
    )


@pytest.mark.parametrize("key", list(SORT_KEYS))
def test_sort_on_each_column_descending_is_the_exact_reverse(admin_client_a, sort_users, key):
    expected = [u["login_id"] for u in sorted(sort_users, key=SORT_KEYS[key], reverse=True)]

    response = admin_client_a.get(LIST_URL, {"q": SORT_SEARCH, "sort": key, "dir": "desc"})

    assert response.status_code == 200
    assert login_ids(response) == expected
    assert re.search(
        rf'<th scope="col" class="col-{key}" aria-sort="descending">', response.content.decode()
    )


def test_sort_is_stable_across_pages(admin_client_a, org_a):
    # 30 users with one name: the order across pages is by id, with no row shown twice.
    made = [UserFactory(organization=org_a, name="Same Name").login_id for _ in range(30)]

    page1 = admin_client_a.get(LIST_URL, {"q": "Same Name", "per_page": 25})
    page2 = admin_client_a.get(LIST_URL, {"q": "Same Name", "per_page": 25, "page": 2})

    assert login_ids(page1) + login_ids(page2) == made


def test_column_headers_toggle_direction_and_keep_the_filters(admin_client_a, sort_users):
    response = admin_client_a.get(
        LIST_URL, {"q": SORT_SEARCH, "role": "member", "sort": "name", "per_page": 25}
    )

    content = response.content.decode()
    hrefs = {
        key: parse_qs(urlsplit(html.unescape(href)).query)
        for key, href in re.findall(
            r'<th scope="col" class="col-(\w+)"[^>]*>\s*<a href="([^"]*)"', content
        )
    }
    assert hrefs["name"]["dir"] == ["desc"]  # the active column flips
    assert hrefs["login_id"]["sort"] == ["login_id"]
    assert "dir" not in hrefs["login_id"]  # asc is the default
    for query in hrefs.values():
        assert query["q"] == [SORT_SEARCH]
        assert query["role"] == ["member"]
        assert query["per_page"] == ["25"]


# --- pagination ---------------------------------------------------------------------------------


@pytest.fixture
def agents(org_a):
    return [
        UserFactory(
            organization=org_a, login_id=f"agent{i:02d}@pag.example.com", name=f"Agent {i:02d}"
        )
        for i in range(60)
    ]


@pytest.mark.parametrize(
    ("per_page", "first_page_rows", "count"),
    [
        (25, 25, "Showing 1–25 of 60 users"),
        (50, 50, "Showing 1–50 of 60 users"),
        (100, 60, "60 users"),
    ],
)
def test_per_page_choices(admin_client_a, agents, per_page, first_page_rows, count):
    response = admin_client_a.get(
        LIST_URL, {"q": "agent", "sort": "login_id", "per_page": per_page}
    )

    assert response.status_code == 200
    assert login_ids(response) == [u.login_id for u in agents[:first_page_rows]]
    assert result_count(response) == count


def result_count(response) -> str:
    content = response.content.decode()
    match = re.search(r'<p class="result-count"[^>]*>(.*?)</p>', content, re.S)
    return " ".join(re.sub(r"{#.*?#}|<[^>]+>", "", match.group(1)).split())


@pytest.mark.parametrize(
    ("search", "expected"),
    [("agent 07", "1 user"), ("agent 0", "10 users"), ("Admin A", "1 user")],
)
def test_the_count_reads_naturally_for_one_user_and_for_all_on_one_page(
    admin_client_a, agents, search, expected
):
    assert result_count(admin_client_a.get(LIST_URL, {"q": search})) == expected


def test_no_match_is_said_once(admin_client_a, agents):
    response = admin_client_a.get(LIST_URL, {"q": "nobody-by-this-name"})

    content = response.content.decode()
    assert result_count(response) == ""
    assert content.count("No users match") == 1
    assert "No users match your search and filters." in content


def test_counts_have_thousands_separators(admin_client_a, org_a, agents):
    User.objects.bulk_create(
        User(
            organization=org_a,
            login_id=f"bulk{i:04d}@a.example.com",
            login_id_key=f"bulk{i:04d}@a.example.com",
            name=f"Bulk {i:04d}",
        )
        for i in range(1200)
    )

    assert result_count(admin_client_a.get(LIST_URL)) == "Showing 1–50 of 1,261 users"
    assert result_count(admin_client_a.get(LIST_URL, {"q": "bulk"})) == (
        "Showing 1–50 of 1,200 users"
    )


def test_default_page_size_is_50(admin_client_a, agents):
    response = admin_client_a.get(LIST_URL, {"q": "agent"})

    assert len(login_ids(response)) == 50


def test_page_links_keep_the_query_string(admin_client_a, agents):
    params = {"q": "agent", "sort": "login_id", "dir": "desc", "status": "active", "per_page": 25}

    page1 = admin_client_a.get(LIST_URL, params)

    links = pagination_links(page1)
    assert set(links) >= {"1", "2", "3", "Next"}
    for text in ("2", "3", "Next"):
        query = links[text]
        assert query["q"] == ["agent"]
        assert query["sort"] == ["login_id"]
        assert query["dir"] == ["desc"]
        assert query["status"] == ["active"]
        assert query["per_page"] == ["25"]
    # Next is a keyset cursor (fast at any depth); page numbers are offsets.
    assert "after" in links["Next"] and "page" not in links["Next"]
    assert links["3"]["page"] == ["3"]

    # Following either link gives the next 25 in the same order.
    page2 = admin_client_a.get(LIST_URL, {**params, "page": 2})
    expected = [u.login_id for u in reversed(agents)]
    assert login_ids(page1) == expected[:25]
    assert login_ids(page2) == expected[25:50]
    via_cursor = admin_client_a.get(LIST_URL, {k: v[0] for k, v in links["Next"].items()})
    assert login_ids(via_cursor) == expected[25:50]
    assert pagination_links(page2)["Previous"]["q"] == ["agent"]
    page3 = admin_client_a.get(LIST_URL, {**params, "page": 3})
    assert login_ids(page3) == expected[50:]
    assert "Next" not in pagination_links(page3)


def test_row_links_carry_the_list_query_back(admin_client_a, agents):
    response = admin_client_a.get(LIST_URL, {"q": "agent", "per_page": 25, "page": 2})

    edit = reverse("users:edit", args=[agents[25].pk])
    match = re.search(rf'href="({re.escape(edit)}\?next=[^"]*)"', response.content.decode())
    assert match
    back = parse_qs(urlsplit(html.unescape(match.group(1))).query)["next"][0]
    assert urlsplit(back).path == LIST_URL
    assert parse_qs(urlsplit(back).query) == {"q": ["agent"], "per_page": ["25"], "page": ["2"]}


# --- seat meter and the user limit ----------------------------------------------------------------


def test_seat_meter_shows_users_and_phone_seats_used_of_the_contract(
    admin_client_a, org_a, member_a, org_b, admin_b
):
    inactive = UserFactory(organization=org_a, is_active=False)  # still takes a seat
    GrantFactory(user=member_a, service=catalog.PHONE)
    GrantFactory(user=inactive, service=catalog.PHONE)
    GrantFactory(user=member_a, service=catalog.DASHBOARD)  # not seat-limited
    GrantFactory(user=admin_b, service=catalog.PHONE)  # another organization's seat
    UserFactory.create_batch(3, organization=org_b)
    contract = org_a.contract
    contract.user_limit = 40
    contract.service_limits = {catalog.PHONE: 7}
    contract.save()

    response = admin_client_a.get(LIST_URL)

    assert seat_meter_values(response) == {"Users": (3, 40), "MiiTel Phone": (2, 7)}
    content = response.content.decode()
    assert "please contact us" not in content
    assert f'href="{reverse("users:create")}?next=' in content


def test_when_the_user_limit_is_reached_the_page_says_contact_us_and_add_is_not_a_link(
    admin_client_a, org_a, member_a
):
    contract = org_a.contract
    contract.user_limit = User.objects.filter(organization=org_a).count()
    contract.save()

    response = admin_client_a.get(LIST_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert "All 2 users of your contract are registered" in content
    assert "please contact us" in content
    assert f'href="{reverse("users:create")}' not in content
    assert re.search(
        r'<span class="btn btn-primary" aria-disabled="true">Add new user</span>', content
    )
    assert seat_meter_values(response)["Users"] == (2, 2)


# --- queries ------------------------------------------------------------------------------------


def _add_users_with_grants(organization, n):
    for user in UserFactory.create_batch(n, organization=organization):
        GrantFactory(user=user, service=catalog.PHONE)
        GrantFactory(user=user, service=catalog.CALL_HISTORY)
        GrantFactory(user=user, service=catalog.MEETING_ACCESS, level=catalog.MEETING_ACCESS_HOST)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 50},
        {"per_page": 50, "sort": "services", "dir": "desc"},
        {"per_page": 50, "sort": "last_login", "status": "active", "service": "phone"},
    ],
)
def test_query_count_is_the_same_for_5_and_60_users(
    admin_client_a, org_a, admin_a, member_a, django_assert_max_num_queries, params
):
    for user in (admin_a, member_a):
        GrantFactory(user=user, service=catalog.PHONE)
    _add_users_with_grants(org_a, 3)
    admin_client_a.get(LIST_URL, params)  # the first request of a session may differ

    with CaptureQueriesContext(connection) as few:
        small = admin_client_a.get(LIST_URL, params)
    assert len(login_ids(small)) == 5

    _add_users_with_grants(org_a, 55)
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as many:
        large = admin_client_a.get(LIST_URL, params)

    assert len(login_ids(large)) == 50
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(few) <= 6
