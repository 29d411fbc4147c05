"""/scim/v2/Groups: the contract's services and Administrators. Membership is the grant (or the
admin role), changed through the change service: every rule applies, all or nothing."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from permissions import catalog
from permissions.models import ServiceGrant
from scim.models import ScimGroup, ScimGroupMember
from tests.factories import AdminFactory, GrantFactory, OrganizationFactory, UserFactory

from .conftest import ScimClient, body, make_token

pytestmark = pytest.mark.django_db


def member(user) -> dict:
    return {"value": str(user.pk)}


def test_groups_are_administrators_and_the_plain_services_of_the_contract(scim, scim_org):
    scim_org.contract.services = [catalog.PHONE, catalog.DASHBOARD, catalog.MEETING_ACCESS]
    scim_org.contract.save()

    data = body(scim.get("Groups?excludedAttributes=members"))

    assert [(g["id"], g["displayName"]) for g in data["Resources"]] == [
        ("admin", "Administrators"),
        ("phone", "MiiTel Phone"),
        ("dashboard", "Dashboard"),
    ]
    assert data["totalResults"] == 3
    assert all("members" not in g for g in data["Resources"])
    # Edit meeting access permission has levels: it is the extension's meetingAccess instead.
    assert scim.get("Groups/meeting_access").status_code == 404
    assert scim.get("Groups/call_history").status_code == 404


def test_get_a_group_with_its_members(scim, scim_org):
    users = UserFactory.create_batch(2, organization=scim_org)
    GrantFactory(user=users[1], service=catalog.PHONE)
    admin = User.objects.get(organization=scim_org, role="admin")

    phone = body(scim.get("Groups/phone"))
    admins = body(scim.get("Groups/admin"))
    # The members' names are returned when asked for (a group reads back as it was written).
    named = body(scim.get("Groups/phone?attributes=members.value,members.display"))

    assert [m["value"] for m in phone["members"]] == [str(users[1].pk)]
    assert "display" not in phone["members"][0]
    assert named["members"] == [{"value": str(users[1].pk), "display": users[1].name}]
    assert [m["value"] for m in admins["members"]] == [str(admin.pk)]


def test_filter_groups_by_display_name(scim):
    data = body(scim.get('Groups?filter=displayName eq "miitel phone"'))
    assert [g["id"] for g in data["Resources"]] == ["phone"]
    assert body(scim.get('Groups?filter=displayName eq "Nope"'))["totalResults"] == 0


def test_patch_add_and_remove_members_grant_and_revoke(scim, scim_org):
    alice, bob = UserFactory.create_batch(2, organization=scim_org)

    added = scim.patch(
        "Groups/phone", {"op": "add", "path": "members", "value": [member(alice), member(bob)]}
    )
    assert added.status_code == 204
    assert set(ServiceGrant.objects.filter(service="phone").values_list("user_id", flat=True)) == {
        alice.pk,
        bob.pk,
    }

    removed = scim.patch(
        "Groups/phone", {"op": "remove", "path": f'members[value eq "{alice.pk}"]'}
    )
    assert removed.status_code == 204
    # Entra ID removes with a value instead of a filter.
    entra = scim.patch("Groups/phone", {"op": "Remove", "path": "members", "value": [member(bob)]})
    assert entra.status_code == 204
    assert not ServiceGrant.objects.filter(service="phone").exists()
    events = AuditEvent.objects.filter(action=AuditEvent.Action.PERMISSIONS_CHANGE, channel="scim")
    assert events.count() == 4


def test_the_administrators_group_is_the_admin_role(scim, scim_org):
    user = UserFactory(organization=scim_org)
    owner = User.objects.get(organization=scim_org, role="admin")

    assert (
        scim.patch(
            "Groups/admin", {"op": "add", "path": "members", "value": [member(user)]}
        ).status_code
        == 204
    )
    user.refresh_from_db()
    assert user.role == "admin"

    # Removing both admins would leave the organization without one: refused, nothing changes.
    refused = scim.patch(
        "Groups/admin",
        {"op": "remove", "path": f'members[value eq "{user.pk}"]'},
        {"op": "remove", "path": f'members[value eq "{owner.pk}"]'},
    )
    assert refused.status_code == 409
    assert "without an active admin" in body(refused)["detail"]
    assert set(User.objects.filter(organization=scim_org, role="admin")) == {user, owner}


def test_membership_follows_every_rule_all_or_nothing(scim, scim_org):
    scim_org.contract.service_limits = {catalog.PHONE: 2}
    scim_org.contract.save()
    users = UserFactory.create_batch(3, organization=scim_org)

    full = scim.patch(
        "Groups/phone", {"op": "add", "path": "members", "value": [member(u) for u in users]}
    )
    needs_phone = scim.patch(
        "Groups/monitoring", {"op": "add", "path": "members", "value": [member(users[0])]}
    )

    assert full.status_code == 409
    assert "All 2 MiiTel Phone seats" in body(full)["detail"]
    assert not ServiceGrant.objects.filter(user__in=users).exists()
    assert needs_phone.status_code == 400
    assert "requires MiiTel Phone" in body(needs_phone)["detail"]


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_a_member_that_is_no_user_of_the_organization_is_400(scim, value):
    response = scim.patch(
        "Groups/phone", {"op": "add", "path": "members", "value": [{"value": value}]}
    )
    assert response.status_code == 400
    assert body(response)["scimType"] == "invalidValue"


def test_put_replaces_the_members(scim, scim_org):
    keep, drop, add = UserFactory.create_batch(3, organization=scim_org)
    GrantFactory(user=keep, service=catalog.DASHBOARD)
    GrantFactory(user=drop, service=catalog.DASHBOARD)

    response = scim.put(
        "Groups/dashboard",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Dashboard",
            "members": [member(keep), member(add)],
        },
    )

    assert response.status_code == 200
    assert {m["value"] for m in body(response)["members"]} == {str(keep.pk), str(add.pk)}
    assert set(
        ServiceGrant.objects.filter(service="dashboard").values_list("user_id", flat=True)
    ) == {
        keep.pk,
        add.pk,
    }


def test_service_groups_cannot_be_deleted_or_renamed(scim):
    deleted = scim.delete("Groups/phone")
    renamed = scim.patch(
        "Groups/phone", {"op": "replace", "path": "displayName", "value": "Phones"}
    )
    missing = scim.delete("Groups/nothing")

    assert deleted.status_code == 400
    assert body(deleted)["scimType"] == "mutability"
    assert "cannot be deleted" in body(deleted)["detail"]
    assert renamed.status_code == 400
    assert body(renamed)["scimType"] == "mutability"
    assert missing.status_code == 404
    assert body(scim.get("Groups/phone"))["displayName"] == "MiiTel Phone"


def test_the_admin_group_members_are_not_services(scim, scim_org):
    AdminFactory(organization=scim_org)
    data = body(scim.get("Groups/admin"))
    assert len(data["members"]) == 2


# --- Groups the identity provider creates (docs/scim.md "Groups") ---------------------------------

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def new_group(name: str = "Sales", *users, **extra) -> dict:
    return {"schemas": [GROUP], "displayName": name, "members": [member(u) for u in users], **extra}


def create(scim, name: str = "Sales", *users, **extra) -> dict:
    response = scim.post("Groups", new_group(name, *users, **extra))
    assert response.status_code == 201, response.content
    return body(response)


def test_create_a_group_with_members(scim, scim_org):
    alice, bob = UserFactory.create_batch(2, organization=scim_org)

    response = scim.post("Groups", new_group("Sales", alice, bob, externalId="okta-00g1"))

    assert response.status_code == 201
    data = body(response)
    group = ScimGroup.objects.get(organization=scim_org)
    assert data["id"] == str(group.pk)
    uuid.UUID(data["id"])  # never a service code
    assert data["displayName"] == "Sales"
    assert data["externalId"] == "okta-00g1"
    assert {m["value"] for m in data["members"]} == {str(alice.pk), str(bob.pk)}
    assert data["meta"]["version"] == 'W/"1"' == response["ETag"]
    assert response["Location"] == data["meta"]["location"]
    assert body(scim.get(f"Groups/{group.pk}"))["displayName"] == "Sales"
    # It grants nothing.
    assert not ServiceGrant.objects.filter(user__in=[alice, bob]).exists()
    # The users show it among their groups.
    groups = body(scim.get(f"Users/{alice.pk}"))["groups"]
    assert {"value": str(group.pk), "display": "Sales"} in [
        {k: g[k] for k in ("value", "display")} for g in groups
    ]
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCIM_GROUP_CREATE)
    assert (event.channel, event.actor_label, event.target_label) == ("scim", "Entra ID", "Sales")
    assert event.changes["members_added"][1] == [alice.login_id, bob.login_id]


@pytest.mark.parametrize(
    "name", ["sales", "SALES", "MiiTel Phone", "administrators", "Funnel (beta)"]
)
def test_a_taken_name_is_409_uniqueness_service_groups_included(scim, name):
    create(scim, "Sales")

    response = scim.post("Groups", new_group(name))

    assert response.status_code == 409
    assert body(response)["scimType"] == "uniqueness"
    assert ScimGroup.objects.count() == 1


def test_renaming_onto_a_taken_name_is_409(scim):
    create(scim, "Sales")
    support = create(scim, "Support")

    renamed = scim.patch(
        f"Groups/{support['id']}", {"op": "replace", "path": "displayName", "value": "SALES"}
    )

    assert renamed.status_code == 409
    assert body(renamed)["scimType"] == "uniqueness"
    assert body(scim.get(f"Groups/{support['id']}"))["displayName"] == "Support"


@pytest.mark.parametrize(
    "payload",
    [
        {"schemas": [GROUP]},
        {"schemas": [GROUP], "displayName": "   "},
        {"schemas": [GROUP], "displayName": "x" * 256},
        {"schemas": [GROUP], "displayName": "a\x00b"},
        {"schemas": [GROUP], "displayName": "Sales", "externalId": "e\x00"},
        {"schemas": [GROUP], "displayName": "Sales", "members": [{"value": "abc"}]},
        {"schemas": [GROUP], "displayName": "Sales", "members": "nope"},
        {"schemas": [GROUP], "displayName": ["Sales"]},
    ],
)
def test_a_bad_group_is_400(scim, payload):
    response = scim.post("Groups", payload)
    assert response.status_code == 400, response.content
    assert not ScimGroup.objects.exists()


def test_filter_and_page_through_service_and_created_groups(scim, scim_org):
    scim_org.contract.services = [catalog.PHONE]
    scim_org.contract.save()
    sales = create(scim, "Sales", externalId="e-sales")
    create(scim, "Support")

    by_name = body(scim.get('Groups?filter=displayName eq "sales"'))
    by_external = body(scim.get('Groups?filter=externalId eq "e-sales"'))
    by_id = body(scim.get(f'Groups?filter=id eq "{sales["id"]}"'))
    service = body(scim.get('Groups?filter=displayName eq "MiiTel Phone"'))
    everything = body(scim.get("Groups?excludedAttributes=members"))
    second_page = body(scim.get("Groups?startIndex=3&count=2"))
    names_only = body(scim.get(f"Groups/{sales['id']}?attributes=displayName"))

    assert [g["id"] for g in by_name["Resources"]] == [sales["id"]]
    assert [g["id"] for g in by_external["Resources"]] == [sales["id"]]
    assert [g["id"] for g in by_id["Resources"]] == [sales["id"]]
    assert [g["id"] for g in service["Resources"]] == ["phone"]
    assert [g["displayName"] for g in everything["Resources"]] == [
        "Administrators",
        "MiiTel Phone",
        "Sales",
        "Support",
    ]
    assert everything["totalResults"] == 4
    assert [g["displayName"] for g in second_page["Resources"]] == ["Sales", "Support"]
    assert second_page["totalResults"] == 4
    assert "members" not in names_only and "externalId" not in names_only
    # The service groups stay where they were.
    assert body(scim.get("Groups/phone"))["displayName"] == "MiiTel Phone"


def test_patch_members_add_and_remove(scim, scim_org):
    alice, bob, carol = UserFactory.create_batch(3, organization=scim_org)
    sales = create(scim, "Sales", alice)
    path = f"Groups/{sales['id']}"

    added = scim.patch(
        path, {"op": "add", "path": "members", "value": [member(bob), member(carol)]}
    )
    removed = scim.patch(path, {"op": "remove", "path": f'members[value eq "{alice.pk}"]'})
    # Entra ID removes with a value; its display and $ref are ignored.
    entra = scim.patch(
        path,
        {"op": "Remove", "path": "members", "value": [{"value": str(bob.pk), "$ref": None}]},
    )

    assert (added.status_code, removed.status_code, entra.status_code) == (204, 204, 204)
    data = body(scim.get(path))
    assert [m["value"] for m in data["members"]] == [str(carol.pk)]
    assert data["meta"]["version"] == 'W/"4"'
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SCIM_GROUP_UPDATE).count() == 3
    # Renamed, with the new name in the answer when attributes are asked for.
    renamed = scim.request(
        "PATCH",
        f"{path}?attributes=displayName",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"displayName": "Sales EMEA"}}],
        },
    )
    assert renamed.status_code == 200
    assert body(renamed)["displayName"] == "Sales EMEA"
    # A PATCH that changes nothing records nothing.
    scim.patch(path, {"op": "add", "path": "members", "value": [member(carol)]})
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SCIM_GROUP_UPDATE).count() == 4


def test_put_replaces_name_external_id_and_members(scim, scim_org):
    keep, drop, add = UserFactory.create_batch(3, organization=scim_org)
    sales = create(scim, "Sales", keep, drop, externalId="old")

    response = scim.put(
        f"Groups/{sales['id']}", {**new_group("Sales and Marketing", keep, add), "id": sales["id"]}
    )

    assert response.status_code == 200
    data = body(response)
    assert data["displayName"] == "Sales and Marketing"
    assert "externalId" not in data
    assert {m["value"] for m in data["members"]} == {str(keep.pk), str(add.pk)}
    assert response["ETag"] == 'W/"2"'


def test_if_match_on_a_created_group(scim):
    sales = create(scim, "Sales")
    path = f"Groups/{sales['id']}"
    scim.patch(path, {"op": "replace", "path": "externalId", "value": "e-1"})

    stale = scim.request("DELETE", path, HTTP_IF_MATCH='W/"1"')
    current = scim.request("DELETE", path, HTTP_IF_MATCH='W/"2"')

    assert stale.status_code == 412
    assert current.status_code == 204


def test_delete_removes_the_group_and_its_memberships_the_users_stay(scim, scim_org):
    alice = UserFactory(organization=scim_org)
    sales = create(scim, "Sales", alice)

    response = scim.delete(f"Groups/{sales['id']}")

    assert response.status_code == 204
    assert scim.get(f"Groups/{sales['id']}").status_code == 404
    assert not ScimGroup.objects.exists() and not ScimGroupMember.objects.exists()
    assert User.objects.filter(pk=alice.pk, deleted_at__isnull=True).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCIM_GROUP_DELETE)
    assert (event.target_label, event.detail) == ("Sales", "members=1")
    # The name is free again.
    create(scim, "Sales")


def test_a_deleted_user_leaves_the_groups(scim, scim_org):
    alice, bob = UserFactory.create_batch(2, organization=scim_org)
    sales = create(scim, "Sales", alice, bob)

    assert scim.delete(f"Users/{alice.pk}").status_code == 204

    data = body(scim.get(f"Groups/{sales['id']}"))
    assert [m["value"] for m in data["members"]] == [str(bob.pk)]
    assert data["meta"]["version"] == 'W/"2"'
    assert not ScimGroupMember.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_DELETE)
    assert "group_memberships=1" in event.detail
    # A deleted user cannot join again.
    again = scim.patch(
        f"Groups/{sales['id']}", {"op": "add", "path": "members", "value": [member(alice)]}
    )
    assert again.status_code == 400
    assert body(again)["scimType"] == "invalidValue"


def test_another_organization_gets_404_and_its_user_ids_are_refused(scim, scim_org):
    alice = UserFactory(organization=scim_org)
    sales = create(scim, "Sales", alice)
    other = OrganizationFactory(slug="other-groups")
    outsider = UserFactory(organization=other)
    client = ScimClient(make_token(other, "Other IdP"))
    missing = client.get(f"Groups/{uuid.uuid4()}")

    for method, payload in (
        ("GET", None),
        ("PUT", new_group("Taken over")),
        (
            "PATCH",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "X"}],
            },
        ),
        ("DELETE", None),
    ):
        response = client.request(method, f"Groups/{sales['id']}", payload)
        assert response.status_code == 404, method
        assert body(response) == body(missing), method
    for expression in ('displayName eq "Sales"', f'id eq "{sales["id"]}"', "displayName pr"):
        found = body(client.get(f"Groups?filter={expression}"))["Resources"]
        assert all(g["displayName"] != "Sales" for g in found), expression
    # Its own group cannot take our user, and ours cannot take its user: the same 400 as for an
    # id that does not exist, naming nothing of the user.
    theirs = client.post("Groups", new_group("Sales", alice))
    ours = scim.patch(
        f"Groups/{sales['id']}", {"op": "add", "path": "members", "value": [member(outsider)]}
    )
    nobody = scim.patch(
        f"Groups/{sales['id']}", {"op": "add", "path": "members", "value": [{"value": "999999"}]}
    )
    for response in (theirs, ours, nobody):
        assert response.status_code == 400
        assert body(response)["scimType"] == "invalidValue"
        assert outsider.name not in body(response)["detail"]
        assert outsider.login_id not in body(response)["detail"]
    assert body(scim.get(f"Groups/{sales['id']}"))["displayName"] == "Sales"
    assert list(ScimGroup.objects.filter(organization=other)) == []
    assert not ScimGroupMember.objects.filter(user=outsider).exists()
    # Both organizations may have a group of the same name.
    assert client.post("Groups", new_group("Sales")).status_code == 201


def test_listing_groups_without_members_costs_the_same_queries_whatever_their_size(scim, scim_org):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert scim.get("Groups?excludedAttributes=members").status_code == 200
        return len(captured)

    users = UserFactory.create_batch(2, organization=scim_org)
    create(scim, "Sales", *users)
    few = queries()
    more = UserFactory.create_batch(30, organization=scim_org)
    create(scim, "Support", *more)
    create(scim, "Marketing", *more)
    many = queries()

    # Token, throttle, count, page: none per group or per member.
    assert few == many <= 5, (few, many)


@pytest.mark.parametrize(
    ("language", "heading", "action", "field"),
    [
        (
            "en",
            "Groups created by the identity provider",
            "Group changed by the identity provider",
            "Members added",
        ),
        (
            "ja",
            "ID プロバイダーが作成したグループ",
            "ID プロバイダーがグループを変更",
            "追加されたメンバー",
        ),
    ],
)
def test_the_provisioning_page_and_the_audit_log_show_the_groups_in_words(
    admin_client_a, admin_a, org_a, org_b, language, heading, action, field
):
    User.objects.filter(pk=admin_a.pk).update(locale=language)
    scim = ScimClient(make_token(org_a))
    other = ScimClient(make_token(org_b))
    users = UserFactory.create_batch(3, organization=org_a)
    sales = create(scim, "Sales", *users[:2])
    scim.patch(
        f"Groups/{sales['id']}", {"op": "add", "path": "members", "value": [member(users[2])]}
    )
    scim.delete(f"Users/{users[0].pk}")
    create(other, "Their group")

    page = admin_client_a.get(reverse("provisioning:tokens")).content.decode()
    audit = admin_client_a.get(reverse("audit:list")).content.decode()

    assert heading in page
    assert re.search(r"<td>Sales</td>\s*<td>2</td>", page)
    assert "Their group" not in page
    assert action in audit
    assert field in audit
    assert users[2].login_id in audit
    assert "members_added" not in audit
