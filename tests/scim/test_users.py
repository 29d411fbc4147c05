"""/scim/v2/Users: each operation, each rule answered as SCIM (status, scimType, the product's
own message), nothing written when a request is refused."""

import pytest
from django.contrib.auth.hashers import is_password_usable
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.models import User, UserSession
from audit.models import AuditEvent
from audit.services import Actor
from permissions import catalog
from permissions.models import ServiceGrant
from scim.models import ScimToken
from scim.tokens import token_revoke
from tests.factories import GrantFactory, UserFactory
from tests.security.conftest import client_for

from .conftest import MIITEL, USER, ScimClient, body, make_token, new_user

pytestmark = pytest.mark.django_db


def created(scim, payload) -> User:
    response = scim.post("Users", payload)
    assert response.status_code == 201, response.content
    return User.objects.get(pk=int(body(response)["id"]))


# --- POST -----------------------------------------------------------------------------------------


def test_post_creates_the_user_with_a_generated_password_and_audits_it_as_scim(scim, scim_org):
    response = scim.post(
        "Users",
        new_user(
            "Taro.Yamada@Example.com",
            externalId="ext-1",
            active=True,
            preferredLanguage="en",
            timezone="Asia/Tokyo",
            password="never-used-1A",
        ),
    )

    assert response.status_code == 201
    data = body(response)
    user = User.objects.get(pk=int(data["id"]))
    assert response["Location"] == f"http://testserver/scim/v2/Users/{user.pk}"
    assert response["ETag"] == f'W/"{user.version}"'
    assert data["userName"] == "Taro.Yamada@Example.com"
    assert data["displayName"] == data["name"]["formatted"] == "Taro Yamada"
    assert data["emails"] == [{"value": "Taro.Yamada@Example.com", "type": "work", "primary": True}]
    assert data["preferredLanguage"] == "en" and data["locale"] == "en-US"
    assert data[MIITEL] == {"role": "member"}
    assert "password" not in data
    assert (user.organization, user.login_id, user.name, user.locale, user.external_id) == (
        scim_org,
        "Taro.Yamada@Example.com",
        "Taro Yamada",
        "en",
        "ext-1",
    )
    # A temporary password was generated (the one sent is not taken), never returned.
    assert is_password_usable(user.password) and user.must_change_password
    assert not user.check_password("never-used-1A")
    event = AuditEvent.objects.get(target=user, action=AuditEvent.Action.USER_CREATE)
    assert (event.channel, event.actor_label, event.actor) == ("scim", "Entra ID", None)


def test_post_without_a_formatted_name_builds_it_from_given_and_family_names(scim):
    english = created(
        scim,
        {
            "schemas": [USER],
            "userName": "okta.user@example.com",
            "name": {"givenName": "Test", "familyName": "User"},
            "locale": "en-US",
        },
    )
    japanese = created(
        scim,
        {
            "schemas": [USER],
            "userName": "yamada@example.com",
            "name": {"givenName": "太郎", "familyName": "山田"},
            "preferredLanguage": "ja-JP",
        },
    )

    assert (english.name, english.locale) == ("Test User", "en")
    assert (japanese.name, japanese.locale) == ("山田 太郎", "ja")


def test_display_name_wins_over_name_formatted_and_preferred_language_over_locale(scim):
    user = created(
        scim,
        new_user(
            "both@example.com",
            displayName="Shown",
            name={"formatted": "Formatted"},
            preferredLanguage="ja",
            locale="en-US",
        ),
    )
    assert (user.name, user.locale) == ("Shown", "ja")


def test_post_with_the_extension_sets_role_extension_and_services(scim, scim_org):
    user = created(
        scim,
        new_user(
            "ext@example.com",
            schemas=[USER, MIITEL],
            **{
                MIITEL: {
                    "role": "admin",
                    "extensionNumber": "2001",
                    "meetingAccess": "host",
                    "services": ["phone", "call_history"],
                }
            },
        ),
    )

    assert (user.role, user.extension) == ("admin", "2001")
    assert dict(ServiceGrant.objects.filter(user=user).values_list("service", "level")) == {
        catalog.PHONE: "",
        catalog.CALL_HISTORY: "",
        catalog.MEETING_ACCESS: "host",
    }
    data = body(scim.get(f"Users/{user.pk}"))
    assert data[MIITEL] == {
        "role": "admin",
        "extensionNumber": "2001",
        "meetingAccess": "host",
        "services": ["call_history", "phone"],
    }
    assert {g["display"] for g in data["groups"]} == {
        "Administrators",
        "MiiTel Phone",
        "Call History",
    }


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (new_user("not-an-email"), "with exactly one “@”"),
        (new_user("a@example.com", displayName="x" * 31), "at most 30 characters"),
        (
            new_user("a@example.com", timezone="Europe/Paris"),
            "Time zone “Europe/Paris” is not offered",
        ),
        (new_user("a@example.com", preferredLanguage="fr-FR"), "fr"),
        ({"schemas": [USER], "userName": "a@example.com"}, "User name is required."),
    ],
)
def test_post_breaking_a_field_rule_is_400_invalid_value_with_the_rule_and_creates_nothing(
    scim, payload, detail
):
    users = User.all_objects.count()

    response = scim.post("Users", payload)

    assert response.status_code == 400
    error = body(response)
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert (error["status"], error["scimType"]) == ("400", "invalidValue")
    assert detail in error["detail"], error
    assert User.all_objects.count() == users


def test_post_of_a_login_id_in_use_is_409_uniqueness_case_insensitively(scim, admin_b):
    response = scim.post("Users", new_user(admin_b.login_id.upper()))

    assert response.status_code == 409
    assert body(response)["scimType"] == "uniqueness"
    assert body(response)["detail"] == "This login ID is already in use."


def test_post_beyond_the_user_limit_is_409_naming_the_rule_and_creates_nothing(scim, scim_org):
    scim_org.contract.user_limit = User.objects.filter(organization=scim_org).count()
    scim_org.contract.save()

    response = scim.post("Users", new_user("one.more@example.com"))

    assert response.status_code == 409
    error = body(response)
    assert "scimType" not in error
    assert error["detail"].startswith("Your contract allows 1 users: this would be user 2.")
    assert "please contact us" in error["detail"]
    assert not User.all_objects.filter(login_id_key="one.more@example.com").exists()


def test_post_taking_a_phone_seat_beyond_the_limit_is_409_seat_limit(scim, scim_org):
    scim_org.contract.service_limits = {catalog.PHONE: 0}
    scim_org.contract.save()

    response = scim.post(
        "Users",
        new_user("phone@example.com", schemas=[USER, MIITEL], **{MIITEL: {"services": ["phone"]}}),
    )

    assert response.status_code == 409
    assert "All 0 MiiTel Phone seats in your contract would be in use." in body(response)["detail"]
    assert not User.all_objects.filter(login_id_key="phone@example.com").exists()


def test_post_of_a_service_outside_the_contract_is_400(scim, scim_org):
    scim_org.contract.services = [catalog.CALL_HISTORY]
    scim_org.contract.save()

    response = scim.post(
        "Users",
        new_user(
            "dash@example.com", schemas=[USER, MIITEL], **{MIITEL: {"services": ["dashboard"]}}
        ),
    )

    assert response.status_code == 400
    assert body(response)["detail"].startswith("Dashboard is not in your organization's contract.")


@pytest.mark.parametrize("payload", ["[]", "{not json", '"text"'])
def test_a_body_that_is_not_a_json_object_is_400_invalid_syntax(scim, payload):
    response = scim.request("POST", "Users", payload)
    assert response.status_code == 400
    assert body(response)["scimType"] == "invalidSyntax"


def test_a_japanese_client_gets_the_rule_in_japanese(scim):
    response = scim.post("Users", new_user("not-an-email"), HTTP_ACCEPT_LANGUAGE="ja,en;q=0.5")
    assert response.status_code == 400
    assert "@" in body(response)["detail"]
    assert any("\u3040" <= ch <= "\u30ff" for ch in body(response)["detail"]), body(response)


# --- GET ----------------------------------------------------------------------------------------


def test_get_by_id_answers_the_user_with_its_version(scim, scim_org):
    user = UserFactory(organization=scim_org, login_id="get@example.com", name="Get Me")
    GrantFactory(user=user, service=catalog.DASHBOARD)

    response = scim.get(f"Users/{user.pk}")

    assert response.status_code == 200
    data = body(response)
    assert (data["id"], data["userName"], data["displayName"], data["active"]) == (
        str(user.pk),
        "get@example.com",
        "Get Me",
        True,
    )
    assert data["meta"]["version"] == response["ETag"] == f'W/"{user.version}"'
    assert data[MIITEL]["services"] == ["dashboard"]


@pytest.mark.parametrize("user_id", ["999999", "abc", "-1", "1" * 40])
def test_get_of_a_missing_or_malformed_id_is_404(scim, user_id):
    response = scim.get(f"Users/{user_id}")
    assert response.status_code == 404
    assert body(response)["status"] == "404"


def test_attributes_and_excluded_attributes_select_what_is_returned(scim, scim_org):
    user = UserFactory(organization=scim_org, external_id="e-1")

    only = body(scim.get(f"Users/{user.pk}?attributes=userName"))
    without = body(scim.get(f"Users/{user.pk}?excludedAttributes=emails,externalId"))

    assert set(only) == {"schemas", "id", "userName"}
    assert "emails" not in without and "externalId" not in without and "userName" in without


def test_list_filters_user_name_case_insensitively_and_pages(scim, scim_org):
    users = [UserFactory(organization=scim_org, login_id=f"p{i}@example.com") for i in range(5)]

    found = body(scim.get('Users?filter=userName eq "P3@EXAMPLE.COM"'))
    page = body(scim.get("Users?startIndex=2&count=2"))
    none = body(scim.get("Users?count=0"))

    assert found["totalResults"] == 1
    assert [r["id"] for r in found["Resources"]] == [str(users[3].pk)]
    everyone = User.objects.filter(organization=scim_org).order_by("pk")
    assert page["totalResults"] == everyone.count()
    assert (page["startIndex"], page["itemsPerPage"]) == (2, 2)
    assert [r["id"] for r in page["Resources"]] == [str(u.pk) for u in everyone[1:3]]
    assert none["totalResults"] == everyone.count() and none["Resources"] == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('externalId eq "ext-a"', {"a"}),
        ('externalId eq "EXT-A"', set()),  # externalId is case-exact
        ('displayName eq "alpha one"', {"a"}),
        ('userName eq "a@example.com" or userName eq "b@example.com"', {"a", "b"}),
        ('userName sw "a@" and active eq true', {"a"}),
        ("externalId pr", {"a", "b"}),
        ('not (externalId pr) and userName ew "@example.com"', {"c"}),
        ('emails[type eq "work" and value eq "c@example.com"]', {"c"}),
        ('emails.value eq "B@example.com"', {"b"}),
        ("active eq false", {"b"}),
        ('id eq "999999"', set()),
    ],
)
def test_filters(scim, scim_org, expression, expected):
    users = {
        "a": UserFactory(
            organization=scim_org, login_id="a@example.com", name="Alpha One", external_id="ext-a"
        ),
        "b": UserFactory(
            organization=scim_org, login_id="b@example.com", external_id="ext-b", is_active=False
        ),
        "c": UserFactory(organization=scim_org, login_id="c@example.com"),
    }
    by_id = {str(u.pk): key for key, u in users.items()}

    response = (
        scim.get("Users", QUERY_STRING="") if False else scim.get(f"Users?filter={expression}")
    )

    assert response.status_code == 200, response.content
    found = {by_id.get(r["id"], "other") for r in body(response)["Resources"]}
    assert found == expected


def test_filter_by_id(scim, scim_org):
    user = UserFactory(organization=scim_org)
    data = body(scim.get(f'Users?filter=id eq "{user.pk}"'))
    assert [r["id"] for r in data["Resources"]] == [str(user.pk)]


@pytest.mark.parametrize(
    "expression",
    ['title eq "x"', 'userName gt "a"', "userName eq", "(((", 'meta.created gt "2020-01-01"'],
)
def test_an_unsupported_or_malformed_filter_is_400_invalid_filter(scim, expression):
    response = scim.get(f"Users?filter={expression}")
    assert response.status_code == 400, response.content
    assert body(response)["scimType"] == "invalidFilter"


# --- PUT ------------------------------------------------------------------------------------------


def test_put_replaces_and_clears_what_it_leaves_out_but_keeps_an_extension_it_leaves_out(
    scim, scim_org
):
    user = UserFactory(
        organization=scim_org, login_id="put@example.com", external_id="old", extension="301"
    )
    GrantFactory(user=user, service=catalog.PHONE)

    response = scim.put(
        f"Users/{user.pk}",
        {
            "schemas": [USER],
            "userName": "put@example.com",
            "displayName": "Renamed",
            "active": False,
        },
    )

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert (user.name, user.is_active, user.external_id) == ("Renamed", False, "")
    # Not asserted: the MiiTel extension was not in the request.
    assert user.extension == "301"
    assert ServiceGrant.objects.filter(user=user, service=catalog.PHONE).exists()

    response = scim.put(
        f"Users/{user.pk}",
        {
            "schemas": [USER, MIITEL],
            "userName": "put@example.com",
            "displayName": "Renamed",
            MIITEL: {"role": "member"},
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.extension == ""
    assert not ServiceGrant.objects.filter(user=user).exists()


# --- PATCH ----------------------------------------------------------------------------------------


def test_patch_active_false_as_entra_sends_it_deactivates_and_ends_sessions(scim, scim_org):
    user = UserFactory(organization=scim_org)
    client_for(user)  # a signed-in session
    assert UserSession.objects.filter(user=user).exists()

    response = scim.patch(f"Users/{user.pk}", {"op": "Replace", "path": "active", "value": "False"})

    assert response.status_code == 200
    assert body(response)["active"] is False
    user.refresh_from_db()
    assert user.is_active is False
    assert not UserSession.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(target=user, action=AuditEvent.Action.USER_DEACTIVATE)
    assert (event.channel, event.actor_label) == ("scim", "Entra ID")


def test_patch_without_path_and_with_value_filters(scim, scim_org):
    user = UserFactory(organization=scim_org, login_id="pp@example.com")

    response = scim.patch(
        f"Users/{user.pk}",
        {"op": "replace", "value": {"displayName": "No Path", "externalId": "x-9", "active": True}},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "other@example.com"},
        {"op": "add", "path": f"{MIITEL}:services", "value": ["dashboard"]},
    )

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert (user.name, user.external_id, user.login_id) == ("No Path", "x-9", "pp@example.com")
    assert list(ServiceGrant.objects.filter(user=user).values_list("service", flat=True)) == [
        "dashboard"
    ]

    response = scim.patch(
        f"Users/{user.pk}",
        {"op": "remove", "path": f'{MIITEL}:services[value eq "dashboard"]'},
        {"op": "remove", "path": "externalId"},
    )
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.external_id == "" and not ServiceGrant.objects.filter(user=user).exists()


def test_a_multi_operation_patch_with_one_failing_operation_changes_nothing(scim, scim_org):
    user = UserFactory(organization=scim_org, name="Before")
    version = user.version
    events = AuditEvent.objects.count()

    response = scim.patch(
        f"Users/{user.pk}",
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "add", "path": f"{MIITEL}:extensionNumber", "value": "12"},
    )

    assert response.status_code == 400
    assert "extension number" in body(response)["detail"].lower()
    user.refresh_from_db()
    assert (user.name, user.is_active, user.version) == ("Before", True, version)
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove", "path": "displayName"}, "mutability"),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "replace", "path": "groups", "value": []}, "mutability"),
        ({"op": "jump", "path": "active", "value": True}, "invalidValue"),
        ({"op": "replace", "path": "userName eq", "value": "x"}, "invalidPath"),
    ],
)
def test_patch_errors_of_the_request_itself(scim, scim_org, operation, scim_type):
    user = UserFactory(organization=scim_org)
    response = scim.patch(f"Users/{user.pk}", operation)
    assert response.status_code == 400, response.content
    assert body(response)["scimType"] == scim_type


def test_if_match_with_an_old_version_is_412_and_changes_nothing(scim, scim_org):
    user = UserFactory(organization=scim_org, name="Kept")
    etag = body(scim.get(f"Users/{user.pk}"))["meta"]["version"]
    assert (
        scim.patch(
            f"Users/{user.pk}", {"op": "replace", "path": "displayName", "value": "One"}
        ).status_code
        == 200
    )

    stale = scim.patch(
        f"Users/{user.pk}",
        {"op": "replace", "path": "displayName", "value": "Two"},
        HTTP_IF_MATCH=etag,
    )
    current = scim.get(f"Users/{user.pk}")["ETag"]
    fresh = scim.patch(
        f"Users/{user.pk}",
        {"op": "replace", "path": "displayName", "value": "Three"},
        HTTP_IF_MATCH=current,
    )

    assert stale.status_code == 412
    assert "was changed by someone else" in body(stale)["detail"]
    assert fresh.status_code == 200
    user.refresh_from_db()
    assert user.name == "Three"


# --- DELETE ---------------------------------------------------------------------------------------


def test_delete_is_the_products_deletion(scim, scim_org):
    user = UserFactory(organization=scim_org, login_id="gone@example.com", name="Gone")
    GrantFactory(user=user, service=catalog.PHONE)

    response = scim.delete(f"Users/{user.pk}")

    assert response.status_code == 204
    tombstone = User.all_objects.get(pk=user.pk)
    assert tombstone.deleted_at is not None and tombstone.login_id == ""
    with translation.override("en"):
        assert tombstone.display_name == "Gone (Deleted)"
    assert not ServiceGrant.objects.filter(user=user).exists()
    assert scim.get(f"Users/{user.pk}").status_code == 404
    assert scim.delete(f"Users/{user.pk}").status_code == 404
    # The login ID is free at once.
    assert scim.post("Users", new_user("gone@example.com")).status_code == 201
    event = AuditEvent.objects.get(target=tombstone, action=AuditEvent.Action.USER_DELETE)
    assert (event.channel, event.actor_label) == ("scim", "Entra ID")


def test_deleting_the_last_active_admin_is_409(scim, scim_org):
    admin = User.objects.get(organization=scim_org, role="admin")
    response = scim.delete(f"Users/{admin.pk}")
    assert response.status_code == 409
    assert "without an active admin" in body(response)["detail"]


# --- Errors never leak ----------------------------------------------------------------------------


def test_an_unexpected_exception_answers_a_generic_500_and_logs_the_detail(
    scim, scim_org, monkeypatch, caplog
):
    def boom(**kwargs):
        raise RuntimeError('secret detail: SELECT * FROM "users_user"')

    monkeypatch.setattr("scim.api.apply_changes", boom)

    response = scim.post("Users", new_user("boom@example.com"))

    assert response.status_code == 500
    assert body(response) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "500",
        "detail": "An internal error occurred.",
    }
    assert "secret detail" in caplog.text


# --- Tokens and throttling ------------------------------------------------------------------------


def test_a_wrong_or_revoked_token_is_401(scim_org, scim_token):
    assert ScimClient(scim_token + "x").get("Users").status_code == 401
    assert ScimClient("mtscim_" + "A" * 43).get("Users").status_code == 401
    assert ScimClient(scim_token).get("Users").status_code == 200
    token_revoke(token=ScimToken.objects.get(organization=scim_org), actor=Actor.operator("t"))
    response = ScimClient(scim_token).get("Users")
    assert response.status_code == 401
    assert body(response)["detail"] == "A valid SCIM bearer token is required."


@override_settings(SCIM_REQUESTS_PER_MINUTE=3)
def test_a_token_over_its_rate_gets_429_with_retry_after(scim, scim_org, scim_token):
    statuses = [scim.get("ServiceProviderConfig").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    refused = scim.get("ServiceProviderConfig")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert body(refused)["status"] == "429"
    token = ScimToken.objects.get(organization=scim_org)
    assert token.last_used_at is not None
    # Counted per token: another token of the organization is not held back.
    assert ScimClient(make_token(scim_org, "Okta")).get("ServiceProviderConfig").status_code == 200


def test_a_page_of_users_costs_the_same_queries_whatever_its_size(scim, scim_org):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert scim.get("Users?count=50").status_code == 200
        return len(captured)

    UserFactory.create_batch(2, organization=scim_org)
    few = queries()
    for user in UserFactory.create_batch(20, organization=scim_org):
        GrantFactory(user=user, service=catalog.DASHBOARD)
    many = queries()

    # Token, throttle, count, page, grants, the identity provider's groups: one query each.
    assert few == many <= 6, (few, many)
