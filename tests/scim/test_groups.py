"""/scim/v2/Groups: the contract's services and Administrators. Membership is the grant (or the
admin role), changed through the change service: every rule applies, all or nothing."""

import pytest

from accounts.models import User
from audit.models import AuditEvent
from permissions import catalog
from permissions.models import ServiceGrant
from tests.factories import AdminFactory, GrantFactory, UserFactory

from .conftest import body

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
