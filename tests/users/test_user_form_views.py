"""Add new user (/users/new/) and Edit (/users/<id>/edit/): fields, services as a diff, contract
limits, uniqueness, mass assignment, temporary passwords, sessions, self-edit guards, the
last-admin rule, audit records, and the access rules of every console view."""

import datetime as dt
import json
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from permissions import catalog
from permissions.models import ServiceGrant
from permissions.services import field_name, grants_of
from tests.factories import AdminFactory, GrantFactory
from tests.forms import NEW_PASSWORD, edit_data, new_user_data
from users import changes as user_changes

CREATE_URL = reverse("users:create")
LIST_URL = reverse("users:list")
RESET_PASSWORD = "Nw5$tz81Qa"


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


# --- helpers ------------------------------------------------------------------------------------


def edit_url(user_or_id) -> str:
    return reverse("users:edit", args=[getattr(user_or_id, "pk", user_or_id)])


def sessions_of(user: User) -> list[Session]:
    return [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


def normalised(response) -> str:
    """The body without the per-response random values (CSRF mask, CSP nonce)."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "csrf", body)
    return re.sub(r'nonce="[^"]*"', "nonce", body)


def snapshot(user: User) -> tuple:
    user = User.all_objects.get(pk=user.pk)
    return (
        user.login_id,
        user.name,
        user.locale,
        user.role,
        user.extension,
        user.is_active,
        user.password,
        user.must_change_password,
        user.organization_id,
        grants_of(user),
    )


def messages_text(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def no_secret_in_audit(*secrets: str) -> None:
    for event in AuditEvent.objects.all():
        dumped = json.dumps(event.changes) + event.detail
        assert "password" not in {k.lower() for k in event.changes}
        for secret in secrets:
            assert secret not in dumped


# --- Add: happy path ------------------------------------------------------------------------------


def test_add_form_lists_the_user_fields_and_the_contract_services(admin_client_a):
    response = admin_client_a.get(CREATE_URL)

    assert response.status_code == 200
    content = response.content.decode()
    for name in ("login_id", "name", "password", "locale", "time_zone", "role", "extension"):
        assert f'name="{name}"' in content
    assert 'name="is_active"' not in content  # a new user is active
    for service in catalog.GRANTABLE:
        assert f'name="{field_name(service.code)}"' in content
    assert 'name="service_admin"' not in content  # the role, not a grant


def test_add_creates_the_user_with_a_temporary_password_and_the_chosen_services(
    admin_client_a, org_a, admin_a
):
    data = new_user_data(
        role="admin",
        locale="en",
        extension="7001",
        service_phone="on",
        service_monitoring="on",
        service_call_history="on",
        service_meeting_access=catalog.MEETING_ACCESS_HOST,
    )

    response = admin_client_a.post(CREATE_URL, data)

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    user = User.objects.get(login_id_key="new.user@a.example.com")
    assert user.organization == org_a
    assert (user.name, user.role, user.locale, user.extension) == (
        "New User",
        "admin",
        "en",
        "7001",
    )
    assert user.is_active
    assert user.must_change_password is True
    assert user.check_password(NEW_PASSWORD)
    assert dict(ServiceGrant.objects.filter(user=user).values_list("service", "level")) == {
        catalog.PHONE: "",
        catalog.MONITORING: "",
        catalog.CALL_HISTORY: "",
        catalog.MEETING_ACCESS: catalog.MEETING_ACCESS_HOST,
    }
    assert set(ServiceGrant.objects.filter(user=user).values_list("organization", flat=True)) == {
        org_a.pk
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CREATE, target=user)
    assert event.organization == org_a
    assert event.actor == admin_a
    assert event.changes["name"] == [None, "New User"]
    assert event.changes["services"] == [
        None,
        ["call_history", "meeting_access=host", "monitoring", "phone"],
    ]
    no_secret_in_audit(NEW_PASSWORD, user.password)


def test_add_success_message_says_services_may_take_a_while(admin_client_a):
    response = admin_client_a.post(CREATE_URL, new_user_data(), follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    (message,) = messages_text(response)
    assert "New User was added" in message
    assert (
        "It may take a while (up to about an hour) before the user can use every service" in message
    )
    assert "may take a while" in response.content.decode()


def test_add_returns_to_the_list_it_came_from(admin_client_a):
    back = "/users/?q=new&page=2"

    response = admin_client_a.post(CREATE_URL, new_user_data(next=back))

    assert response.status_code == 302
    assert response["Location"] == back


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/users/", "/audit/"])
def test_add_ignores_a_next_that_is_not_the_user_list(admin_client_a, next_url):
    response = admin_client_a.post(CREATE_URL, new_user_data(next=next_url))

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert User.objects.filter(login_id_key="new.user@a.example.com").exists()


def test_save_and_add_another_returns_to_an_empty_form(admin_client_a):
    response = admin_client_a.post(CREATE_URL, new_user_data(add_another="1"))

    assert response.status_code == 302
    assert response["Location"] == CREATE_URL
    assert User.objects.filter(login_id_key="new.user@a.example.com").exists()


# --- Add: errors ----------------------------------------------------------------------------------


def test_add_form_errors_keep_the_input_but_not_the_password(admin_client_a, org_a):
    count = User.objects.count()
    data = new_user_data(extension="12", role="admin", service_phone="on")

    response = admin_client_a.post(CREATE_URL, data)

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["extension"]
    content = response.content.decode()
    assert 'value="new.user@a.example.com"' in content
    assert 'value="New User"' in content
    assert 'value="12"' in content
    password_input = re.search(r'<input type="password" name="password"[^>]*>', content).group(0)
    assert "value=" not in password_input
    assert NEW_PASSWORD not in content
    assert re.search(r'<input type="radio" name="role" value="admin"[^>]*checked', content)
    assert re.search(r'<input type="checkbox" name="service_phone"[^>]*checked', content)
    assert User.objects.count() == count
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_CREATE).exists()


def test_monitoring_without_phone_is_an_error_on_the_monitoring_field(admin_client_a):
    count = User.objects.count()

    response = admin_client_a.post(
        CREATE_URL, new_user_data(service_monitoring="on", service_call_history="on")
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["service_monitoring"]
    assert "requires MiiTel Phone" in errors["service_monitoring"][0]
    assert "id_service_monitoring_error" in response.content.decode()
    assert User.objects.count() == count
    assert not ServiceGrant.objects.exists()


def test_a_service_outside_the_contract_is_not_offered_and_cannot_be_granted(admin_client_a, org_a):
    contract = org_a.contract
    contract.services = sorted(catalog.GRANTABLE_CODES - {catalog.PHONE_MOBILE})
    contract.save()

    form_page = admin_client_a.get(CREATE_URL)
    response = admin_client_a.post(
        CREATE_URL, new_user_data(service_phone_mobile="on", service_dashboard="on")
    )

    assert 'name="service_phone_mobile"' not in form_page.content.decode()
    assert 'name="service_dashboard"' in form_page.content.decode()
    assert response.status_code == 302
    user = User.objects.get(login_id_key="new.user@a.example.com")
    assert grants_of(user) == {catalog.DASHBOARD: ""}
    assert not ServiceGrant.objects.filter(service=catalog.PHONE_MOBILE).exists()


def test_user_limit_reached_says_contact_us_and_creates_nothing(admin_client_a, org_a, member_a):
    contract = org_a.contract
    contract.user_limit = User.objects.filter(organization=org_a).count()
    contract.save()
    count = User.objects.count()

    form_page = admin_client_a.get(CREATE_URL)
    response = admin_client_a.post(CREATE_URL, new_user_data(service_phone="on"))

    assert "please contact us" in form_page.content.decode()
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1
    assert "please contact us" in errors[0]
    assert "please contact us" in response.content.decode()
    assert User.objects.count() == count
    assert not ServiceGrant.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_CREATE).exists()


def test_phone_seat_limit_reached_is_a_form_error(admin_client_a, org_a, member_a):
    GrantFactory(user=member_a, service=catalog.PHONE)
    contract = org_a.contract
    contract.service_limits = {catalog.PHONE: 1}
    contract.save()
    count = User.objects.count()

    refused = admin_client_a.post(CREATE_URL, new_user_data(service_phone="on"))

    assert refused.status_code == 200
    errors = refused.context["form"].errors
    assert list(errors) == ["service_phone"]
    assert "All 1 MiiTel Phone seats in your contract would be in use" in errors["service_phone"][0]
    assert User.objects.count() == count
    assert ServiceGrant.objects.filter(service=catalog.PHONE).count() == 1

    # Without MiiTel Phone the same user can be added.
    accepted = admin_client_a.post(CREATE_URL, new_user_data())
    assert accepted.status_code == 302
    assert User.objects.count() == count + 1


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ("member@a.example.com", "MEMBER@a.Example.COM"),  # same organization
        ("admin@b.example.com", "Admin@B.example.com"),  # another organization
    ],
)
def test_duplicate_login_id_is_a_form_error_whatever_the_case(
    admin_client_a, member_a, admin_b, existing, typed
):
    count = User.objects.count()

    response = admin_client_a.post(CREATE_URL, new_user_data(login_id=typed))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["login_id"]
    assert "already in use" in errors["login_id"][0]
    assert User.objects.count() == count
    assert User.objects.filter(login_id_key=existing).count() == 1


def test_duplicate_extension_in_the_organization_is_a_form_error(admin_client_a, member_a, admin_b):
    User.objects.filter(pk=member_a.pk).update(extension="5555")
    User.objects.filter(pk=admin_b.pk).update(extension="6666")
    count = User.objects.count()

    refused = admin_client_a.post(CREATE_URL, new_user_data(extension="5555"))
    accepted = admin_client_a.post(
        CREATE_URL, new_user_data(login_id="other@a.example.com", extension="6666")
    )

    assert refused.status_code == 200
    assert list(refused.context["form"].errors) == ["extension"]
    assert "already used in your organization" in refused.context["form"].errors["extension"][0]
    assert not User.objects.filter(login_id_key="new.user@a.example.com").exists()
    # Another organization's extension does not count.
    assert accepted.status_code == 302
    assert User.objects.get(login_id_key="other@a.example.com").extension == "6666"
    assert User.objects.count() == count + 1


def test_extra_post_fields_do_not_leak_into_the_new_user(admin_client_a, org_a, org_b, admin_b):
    foreign_hash = make_password("Zz9!known-to-attacker")
    admin_b_before = snapshot(admin_b)
    data = new_user_data(
        organization=str(org_b.pk),
        organization_id=str(org_b.pk),
        is_superuser="1",
        is_staff="1",
        must_change_password="",
        password_hash=foreign_hash,
        login_id_key="admin@b.example.com",
        deleted_at="2020-01-01T00:00:00Z",
        last_login="2020-01-01T00:00:00Z",
        id=str(admin_b.pk),
        pk=str(admin_b.pk),
        is_active="",
    )

    response = admin_client_a.post(CREATE_URL, data)

    assert response.status_code == 302
    user = User.all_objects.get(login_id_key="new.user@a.example.com")
    assert user.organization_id == org_a.pk
    assert user.pk != admin_b.pk
    assert user.password != foreign_hash
    assert user.check_password(NEW_PASSWORD)
    assert user.must_change_password is True
    assert user.is_active is True
    assert user.deleted_at is None
    assert user.last_login is None
    assert user.is_superuser is False
    assert user.is_staff is False
    assert User.objects.filter(organization=org_b).count() == 1
    assert snapshot(admin_b) == admin_b_before


# --- Add: access ----------------------------------------------------------------------------------


def test_member_cannot_add_users(member_client_a, member_a):
    count = User.objects.count()

    page = member_client_a.get(CREATE_URL)
    post = member_client_a.post(CREATE_URL, new_user_data(role="admin"))

    assert page.status_code == 403
    assert post.status_code == 403
    assert User.objects.count() == count
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_CREATE).exists()


@pytest.mark.django_db
def test_anonymous_add_is_sent_to_sign_in(client, org_a):
    count = User.objects.count()

    page = client.get(CREATE_URL)
    post = client.post(CREATE_URL, new_user_data())

    for response in (page, post):
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/users/new/"
    assert User.objects.count() == count


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_add_accepts_get_and_post_only(admin_client_a, method):
    count = User.objects.count()

    response = getattr(admin_client_a, method)(CREATE_URL)

    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert User.objects.count() == count


# --- Edit: happy path -----------------------------------------------------------------------------


def test_edit_form_shows_the_current_values(admin_client_a, member_a):
    User.objects.filter(pk=member_a.pk).update(extension="4321")
    GrantFactory(user=member_a, service=catalog.PHONE)
    GrantFactory(user=member_a, service=catalog.MEETING_ACCESS, level=catalog.MEETING_ACCESS_ALL)

    response = admin_client_a.get(edit_url(member_a))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'value="member@a.example.com"' in content
    assert 'value="Member A"' in content
    assert 'value="4321"' in content
    assert re.search(r'<input type="checkbox" name="is_active"[^>]*checked', content)
    assert re.search(r'<input type="checkbox" name="service_phone"[^>]*checked', content)
    assert not re.search(r'<input type="checkbox" name="service_dashboard"[^>]*checked', content)
    assert re.search(r'<option value="all" selected>', content)
    password_input = re.search(r'<input type="password" name="password"[^>]*>', content).group(0)
    assert "value=" not in password_input
    assert "required" not in password_input


def test_edit_changes_the_fields_and_records_before_and_after(admin_client_a, admin_a, member_a):
    old_hash = User.objects.get(pk=member_a.pk).password
    data = edit_data(
        member_a,
        login_id="Member.Renamed@a.example.com",
        name="Member Renamed",
        locale="en",
        role="admin",
        extension="321",
        next="/users/?q=member",
    )

    response = admin_client_a.post(edit_url(member_a), data)

    assert response.status_code == 302
    assert response["Location"] == "/users/?q=member"
    member_a.refresh_from_db()
    assert member_a.login_id == "Member.Renamed@a.example.com"
    assert member_a.login_id_key == "member.renamed@a.example.com"
    assert (member_a.name, member_a.locale, member_a.role, member_a.extension) == (
        "Member Renamed",
        "en",
        "admin",
        "321",
    )
    assert member_a.password == old_hash
    assert member_a.must_change_password is False
    event = AuditEvent.objects.get(target=member_a)
    assert event.action == AuditEvent.Action.USER_UPDATE
    assert event.actor == admin_a
    assert event.changes == {
        "login_id": ["member@a.example.com", "Member.Renamed@a.example.com"],
        "name": ["Member A", "Member Renamed"],
        "locale": ["ja", "en"],
        "role": ["member", "admin"],
        "extension": ["", "321"],
    }


def test_edit_success_message_names_the_user(admin_client_a, member_a):
    response = admin_client_a.post(
        edit_url(member_a), edit_data(member_a, name="Member Renamed"), follow=True
    )

    assert messages_text(response) == ["Changes to Member Renamed were saved."]


def test_edit_without_changes_says_nothing_changed_and_records_nothing(admin_client_a, member_a):
    before = snapshot(member_a)

    response = admin_client_a.post(edit_url(member_a), edit_data(member_a), follow=True)

    assert messages_text(response) == ["Nothing was changed."]
    assert snapshot(member_a) == before
    assert not AuditEvent.objects.filter(target=member_a).exists()


def test_edit_saves_services_as_a_diff(admin_client_a, member_a):
    long_ago = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    phone = GrantFactory(user=member_a, service=catalog.PHONE, granted_at=long_ago)
    GrantFactory(user=member_a, service=catalog.CALL_HISTORY, granted_at=long_ago)
    meeting = GrantFactory(
        user=member_a,
        service=catalog.MEETING_ACCESS,
        level=catalog.MEETING_ACCESS_HOST,
        granted_at=long_ago,
    )
    data = edit_data(
        member_a,
        service_call_history=None,  # removed
        service_dashboard="on",  # added
        service_meeting_access=catalog.MEETING_ACCESS_ALL,  # level changed
    )

    response = admin_client_a.post(edit_url(member_a), data)

    assert response.status_code == 302
    grants = {g.service: g for g in ServiceGrant.objects.filter(user=member_a)}
    assert set(grants) == {catalog.PHONE, catalog.DASHBOARD, catalog.MEETING_ACCESS}
    # The unchanged grant is the same row, granted when it was.
    assert grants[catalog.PHONE].pk == phone.pk
    assert grants[catalog.PHONE].granted_at == long_ago
    assert grants[catalog.MEETING_ACCESS].pk == meeting.pk
    assert grants[catalog.MEETING_ACCESS].level == catalog.MEETING_ACCESS_ALL
    assert grants[catalog.DASHBOARD].granted_at > long_ago
    event = AuditEvent.objects.get(target=member_a)
    assert event.action == AuditEvent.Action.PERMISSIONS_CHANGE
    assert event.changes == {
        "services": [
            ["call_history", "meeting_access=host", "phone"],
            ["dashboard", "meeting_access=all", "phone"],
        ]
    }


def test_edit_setting_meeting_access_to_none_removes_the_grant(admin_client_a, member_a):
    GrantFactory(user=member_a, service=catalog.MEETING_ACCESS, level=catalog.MEETING_ACCESS_HOST)

    admin_client_a.post(
        edit_url(member_a),
        edit_data(member_a, service_meeting_access=catalog.MEETING_ACCESS_NONE),
    )

    assert not ServiceGrant.objects.filter(user=member_a).exists()


def test_edit_leaves_grants_of_services_the_form_does_not_offer(admin_client_a, org_a, member_a):
    """A service dropped from the contract is not on the form; editing the user's name must not
    silently revoke it (docs/rules.md: nothing is silently changed) nor record a services change
    the admin never made."""
    mobile = GrantFactory(user=member_a, service=catalog.PHONE_MOBILE)
    contract = org_a.contract
    contract.services = sorted(catalog.GRANTABLE_CODES - {catalog.PHONE_MOBILE})
    contract.save()

    response = admin_client_a.post(edit_url(member_a), edit_data(member_a, name="Renamed"))

    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.name == "Renamed"
    assert ServiceGrant.objects.filter(pk=mobile.pk).exists()
    event = AuditEvent.objects.get(target=member_a)
    assert event.changes == {"name": ["Member A", "Renamed"]}


def test_extra_post_fields_do_not_leak_into_the_edited_user(
    admin_client_a, org_a, org_b, member_a, admin_b
):
    old_hash = User.objects.get(pk=member_a.pk).password
    admin_b_before = snapshot(admin_b)
    data = edit_data(
        member_a,
        name="Renamed",
        organization=str(org_b.pk),
        organization_id=str(org_b.pk),
        is_superuser="1",
        password_hash=make_password("Zz9!known-to-attacker"),
        must_change_password="1",
        login_id_key="admin@b.example.com",
        deleted_at="2020-01-01T00:00:00Z",
        id=str(admin_b.pk),
    )

    response = admin_client_a.post(edit_url(member_a), data)

    assert response.status_code == 302
    member_a = User.all_objects.get(pk=member_a.pk)
    assert member_a.name == "Renamed"
    assert member_a.organization_id == org_a.pk
    assert member_a.password == old_hash
    assert member_a.must_change_password is False
    assert member_a.login_id_key == "member@a.example.com"
    assert member_a.deleted_at is None
    assert snapshot(admin_b) == admin_b_before


def test_edit_refuses_monitoring_without_phone_and_keeps_the_grants(admin_client_a, member_a):
    GrantFactory(user=member_a, service=catalog.PHONE)
    GrantFactory(user=member_a, service=catalog.MONITORING)
    before = snapshot(member_a)

    response = admin_client_a.post(
        edit_url(member_a), edit_data(member_a, service_phone=None, name="Renamed")
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["service_monitoring"]
    assert snapshot(member_a) == before
    assert not AuditEvent.objects.filter(target=member_a).exists()


def test_edit_to_a_login_id_in_use_is_a_form_error(admin_client_a, member_a, admin_b):
    before = snapshot(member_a)

    response = admin_client_a.post(
        edit_url(member_a), edit_data(member_a, login_id="ADMIN@b.example.com")
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["login_id"]
    assert snapshot(member_a) == before


def test_new_temporary_password_forces_a_change_and_ends_the_users_sessions(
    admin_client_a, member_client_a, admin_a, member_a
):
    assert sessions_of(member_a)
    old_hash = User.objects.get(pk=member_a.pk).password

    response = admin_client_a.post(edit_url(member_a), edit_data(member_a, password=RESET_PASSWORD))

    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.password != old_hash
    assert member_a.check_password(RESET_PASSWORD)
    assert member_a.must_change_password is True
    assert sessions_of(member_a) == []
    assert sessions_of(admin_a)  # the admin stays signed in
    assert member_client_a.get(LIST_URL)["Location"] == "/login/?next=/users/"
    assert admin_client_a.get(LIST_URL).status_code == 200
    event = AuditEvent.objects.get(target=member_a)
    assert event.action == AuditEvent.Action.PASSWORD_RESET
    assert event.changes == {}
    no_secret_in_audit(RESET_PASSWORD, member_a.password)


def test_edit_with_a_new_password_and_other_changes_records_both(admin_client_a, member_a):
    admin_client_a.post(
        edit_url(member_a),
        edit_data(member_a, password=RESET_PASSWORD, name="Renamed", service_phone="on"),
    )

    events = {e.action: e for e in AuditEvent.objects.filter(target=member_a)}
    assert set(events) == {AuditEvent.Action.PASSWORD_RESET, AuditEvent.Action.USER_UPDATE}
    assert events[AuditEvent.Action.USER_UPDATE].changes == {
        "name": ["Member A", "Renamed"],
        "services": [[], ["phone"]],
    }
    member_a.refresh_from_db()
    no_secret_in_audit(RESET_PASSWORD, member_a.password)


def test_invalid_new_password_is_a_form_error_and_changes_nothing(
    admin_client_a, member_client_a, member_a
):
    before = snapshot(member_a)

    response = admin_client_a.post(
        edit_url(member_a), edit_data(member_a, password="lettersonly", name="Renamed")
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["password"]
    assert snapshot(member_a) == before
    assert sessions_of(member_a)


def test_blank_password_keeps_the_old_one(admin_client_a, member_client_a, member_a):
    old_hash = User.objects.get(pk=member_a.pk).password

    response = admin_client_a.post(
        edit_url(member_a), edit_data(member_a, password="", name="Renamed")
    )

    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.name == "Renamed"
    assert member_a.password == old_hash
    assert member_a.must_change_password is False
    assert sessions_of(member_a)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).exists()


def test_unticking_activate_user_deactivates_and_signs_the_user_out(
    admin_client_a, member_client_a, member_a
):
    response = admin_client_a.post(edit_url(member_a), edit_data(member_a, is_active=None))

    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.is_active is False
    assert sessions_of(member_a) == []
    event = AuditEvent.objects.get(target=member_a)
    assert event.action == AuditEvent.Action.USER_DEACTIVATE
    assert event.changes == {"is_active": [True, False]}


def test_ticking_activate_user_activates(admin_client_a, member_a):
    User.objects.filter(pk=member_a.pk).update(is_active=False)
    member_a.refresh_from_db()

    response = admin_client_a.post(edit_url(member_a), edit_data(member_a, is_active="on"))

    assert response.status_code == 302
    member_a.refresh_from_db()
    assert member_a.is_active is True
    assert AuditEvent.objects.get(target=member_a).changes == {"is_active": [False, True]}


# --- Edit: yourself and the last admin ----------------------------------------------------------


def test_admin_editing_themselves_sees_role_and_active_disabled(admin_client_a, admin_a):
    response = admin_client_a.get(edit_url(admin_a))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.fields["role"].disabled
    assert form.fields["is_active"].disabled
    content = response.content.decode()
    assert re.search(r'<input type="radio" name="role" value="member"[^>]*disabled', content)
    assert re.search(r'<input type="checkbox" name="is_active"[^>]*disabled', content)
    assert "You cannot change your own role or deactivate yourself." in content


def test_admin_cannot_demote_or_deactivate_themselves_by_posting(admin_client_a, admin_a, member_a):
    data = edit_data(admin_a, role="member", is_active=None, name="Admin Renamed")

    response = admin_client_a.post(edit_url(admin_a), data)

    assert response.status_code == 302
    admin_a.refresh_from_db()
    assert admin_a.role == User.Role.ADMIN
    assert admin_a.is_active is True
    assert admin_a.name == "Admin Renamed"  # the rest of the form still applies
    assert sessions_of(admin_a)
    event = AuditEvent.objects.get(target=admin_a)
    assert event.changes == {"name": ["Admin A", "Admin Renamed"]}


@pytest.fixture
def concurrent_demotion_of(monkeypatch):
    """Simulate another admin demoting `actor` just before this request takes the contract lock.

    The acting admin is always an active admin when the request starts, so the organization's
    last active admin can only be the target through a concurrent change like this one."""

    def arrange(actor: User) -> None:
        real_lock = user_changes.contract_lock

        def lock_after_demotion(organization):
            User.objects.filter(pk=actor.pk).update(role=User.Role.MEMBER)
            return real_lock(organization)

        monkeypatch.setattr(user_changes, "contract_lock", lock_after_demotion)

    return arrange


@pytest.mark.parametrize(
    "change",
    [{"role": "member"}, {"is_active": None}],
    ids=["demote", "deactivate"],
)
def test_demoting_or_deactivating_the_last_active_admin_is_refused(
    admin_client_a, admin_a, org_a, concurrent_demotion_of, change
):
    other_admin = AdminFactory(organization=org_a, login_id="other.admin@a.example.com")
    AdminFactory(organization=org_a, is_active=False)  # an inactive admin does not count
    before = snapshot(other_admin)
    concurrent_demotion_of(admin_a)

    response = admin_client_a.post(edit_url(other_admin), edit_data(other_admin, **change))

    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1
    assert "last active admin" in errors[0]
    assert "last active admin" in response.content.decode()
    assert snapshot(other_admin) == before
    assert not AuditEvent.objects.filter(target=other_admin).exists()


def test_demoting_another_admin_is_allowed_while_an_admin_remains(admin_client_a, admin_a, org_a):
    other_admin = AdminFactory(organization=org_a)

    response = admin_client_a.post(edit_url(other_admin), edit_data(other_admin, role="member"))

    assert response.status_code == 302
    other_admin.refresh_from_db()
    assert other_admin.role == User.Role.MEMBER


# --- Edit: access ---------------------------------------------------------------------------------


def test_member_cannot_edit_anyone_including_themselves(member_client_a, admin_a, member_a):
    before = {u.pk: snapshot(u) for u in (admin_a, member_a)}

    responses = [
        member_client_a.get(edit_url(admin_a)),
        member_client_a.post(edit_url(admin_a), edit_data(admin_a, role="member", is_active=None)),
        member_client_a.post(edit_url(member_a), edit_data(member_a, role="admin")),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {u.pk: snapshot(u) for u in (admin_a, member_a)} == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_UPDATE).exists()


def test_other_organizations_admin_gets_the_same_404_as_for_a_missing_user(
    admin_client_b, admin_a, member_a
):
    missing = User.all_objects.order_by("-pk").first().pk + 1000
    before = snapshot(member_a)

    got = admin_client_b.get(edit_url(member_a))
    posted = admin_client_b.post(
        edit_url(member_a), edit_data(member_a, name="Hijacked", password=RESET_PASSWORD)
    )
    missing_get = admin_client_b.get(edit_url(missing))
    missing_post = admin_client_b.post(edit_url(missing), edit_data(member_a))

    assert [r.status_code for r in (got, posted, missing_get, missing_post)] == [404] * 4
    assert normalised(got) == normalised(missing_get)
    assert normalised(posted) == normalised(missing_post)
    assert "Member A" not in got.content.decode()
    assert snapshot(member_a) == before


@pytest.mark.django_db
def test_anonymous_edit_is_sent_to_sign_in(client, member_a):
    before = snapshot(member_a)

    page = client.get(edit_url(member_a))
    post = client.post(edit_url(member_a), edit_data(member_a, name="Anon"))

    for response in (page, post):
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next=/users/{member_a.pk}/edit/"
    assert snapshot(member_a) == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_edit_accepts_get_and_post_only(admin_client_a, member_a, method):
    before = snapshot(member_a)

    response = getattr(admin_client_a, method)(edit_url(member_a))

    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert snapshot(member_a) == before
