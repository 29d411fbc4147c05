"""Request sequences as Microsoft Entra ID and Okta send them, written from their public
documentation (Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint"; Okta:
"SCIM 2.0 protocol reference"): find by userName, create, update, deactivate, groups, delete.
Cross-tenant: another organization's token finds nothing and gets 404 on every id."""

import pytest

from accounts.models import User
from permissions.models import ServiceGrant
from tests.factories import OrganizationFactory, UserFactory

from .conftest import ENTERPRISE, USER, ScimClient, body, make_token

pytestmark = pytest.mark.django_db

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_microsoft_entra_id_sequence(scim, scim_org):
    # 1. Entra ID looks the user up by its matching attribute before creating it.
    lookup = scim.get('Users?filter=userName eq "Test_User_dfeef4c5@contoso.com"')
    assert body(lookup)["totalResults"] == 0 and body(lookup)["Resources"] == []

    # 2. Create, with the enterprise extension and attributes MiiTel does not keep.
    created = scim.post(
        "Users",
        {
            "schemas": [USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_dfeef4c5@contoso.com",
            "active": True,
            "emails": [
                {"primary": True, "type": "work", "value": "Test_User_11bb6b8d@contoso.com"}
            ],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName",
            },
            "roles": [],
            "title": "Sales",
            ENTERPRISE: {
                "employeeNumber": "1234",
                "department": "Sales",
                "manager": {"value": "x"},
            },
        },
    )
    assert created.status_code == 201, created.content
    user_id = body(created)["id"]
    assert body(created)["userName"] == "Test_User_dfeef4c5@contoso.com"
    assert body(created)["externalId"] == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"

    # 3. Found again by userName (any case) and by externalId.
    found = body(scim.get('Users?filter=userName eq "test_user_DFEEF4C5@contoso.com"'))
    assert [r["id"] for r in found["Resources"]] == [user_id]
    by_external = body(
        scim.get('Users?filter=externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')
    )
    assert [r["id"] for r in by_external["Resources"]] == [user_id]

    # 4. Update several attributes at once, capitalised ops, paths Entra ID uses.
    updated = scim.patch(
        f"Users/{user_id}",
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "updatedEmail@microsoft.com",
        },
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "displayName", "value": "Updated Name"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "2819c223"},
    )
    assert updated.status_code == 200, updated.content
    assert body(updated)["displayName"] == "Updated Name"

    # 5. Disable: Entra ID sends the boolean as a string.
    disabled = scim.patch(f"Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
    assert disabled.status_code == 200 and body(disabled)["active"] is False
    enabled = scim.patch(f"Users/{user_id}", {"op": "Replace", "path": "active", "value": "True"})
    assert body(enabled)["active"] is True

    # 6. Groups: found by displayName without members, then membership added and removed.
    groups = body(scim.get('Groups?excludedAttributes=members&filter=displayName eq "Dashboard"'))
    assert [g["id"] for g in groups["Resources"]] == ["dashboard"]
    add = scim.patch(
        "Groups/dashboard",
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user_id}]},
    )
    assert add.status_code == 204
    assert ServiceGrant.objects.filter(user_id=int(user_id), service="dashboard").exists()
    remove = scim.patch(
        "Groups/dashboard",
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user_id}]},
    )
    assert remove.status_code == 204
    assert not ServiceGrant.objects.filter(user_id=int(user_id)).exists()

    # 7. Delete.
    assert scim.delete(f"Users/{user_id}").status_code == 204
    assert (
        body(scim.get('Users?filter=userName eq "Test_User_dfeef4c5@contoso.com"'))["totalResults"]
        == 0
    )


def test_okta_sequence(scim, scim_org):
    lookup = scim.get('Users?filter=userName eq "test.user@okta.local"&startIndex=1&count=100')
    assert body(lookup)["totalResults"] == 0

    created = scim.post(
        "Users",
        {
            "schemas": [USER],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": True,
        },
    )
    assert created.status_code == 201, created.content
    user = body(created)
    assert (user["displayName"], user["preferredLanguage"]) == ("Test User", "en")

    fetched = body(scim.get(f"Users/{user['id']}"))
    assert fetched["userName"] == "test.user@okta.local"

    # Okta updates profiles with a full-object PUT, echoing what it read (id, meta, groups).
    fetched["name"] = {"givenName": "Another", "familyName": "User"}
    fetched.pop("displayName")
    fetched["name"].pop("formatted", None)
    replaced = scim.put(f"Users/{user['id']}", fetched)
    assert replaced.status_code == 200, replaced.content
    assert body(replaced)["displayName"] == "Another User"

    # Deactivation: a PATCH without path.
    deactivated = scim.patch(f"Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    assert deactivated.status_code == 200 and body(deactivated)["active"] is False
    assert User.objects.get(pk=int(user["id"])).is_active is False

    # Group push onto an existing group: rename to the same name, then members.
    push = scim.patch(
        "Groups/phone",
        {"op": "replace", "value": {"id": "phone", "displayName": "MiiTel Phone"}},
    )
    assert push.status_code == 204, push.content
    add = scim.patch(
        "Groups/phone",
        {
            "op": "add",
            "path": "members",
            "value": [{"value": user["id"], "display": "test.user@okta.local"}],
        },
    )
    assert add.status_code == 204
    remove = scim.patch(
        "Groups/phone", {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
    )
    assert remove.status_code == 204
    assert not ServiceGrant.objects.filter(user_id=int(user["id"])).exists()


def test_another_organizations_token_finds_nothing_and_gets_404_on_every_id(scim_org):
    foreign = UserFactory(organization=scim_org, login_id="mine@example.com", external_id="e-1")
    other = OrganizationFactory(slug="other-org")
    client = ScimClient(make_token(other, "Other IdP"))
    before = (User.all_objects.get(pk=foreign.pk).version, ServiceGrant.objects.count())

    for expression in (
        'userName eq "mine@example.com"',
        'externalId eq "e-1"',
        f'id eq "{foreign.pk}"',
        "userName pr",
    ):
        assert body(client.get(f"Users?filter={expression}"))["totalResults"] == 0, expression
    assert body(client.get("Users"))["Resources"] == []
    missing = client.get("Users/999999")
    for method, payload in (
        ("GET", None),
        ("PUT", {"schemas": [USER], "userName": "mine@example.com", "displayName": "X"}),
        (
            "PATCH",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        ),
        ("DELETE", None),
    ):
        response = client.request(method, f"Users/{foreign.pk}", payload)
        assert response.status_code == 404, method
        assert body(response) == body(missing), method
    # Group members of another organization are not its members either.
    add = client.patch(
        "Groups/phone", {"op": "add", "path": "members", "value": [{"value": str(foreign.pk)}]}
    )
    assert add.status_code == 400
    assert not any(
        m["value"] == str(foreign.pk) for m in body(client.get("Groups/admin")).get("members", [])
    )
    assert (User.all_objects.get(pk=foreign.pk).version, ServiceGrant.objects.count()) == before
