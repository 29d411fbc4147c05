"""Activate (/users/<id>/activate/) and Deactivate (/users/<id>/deactivate/): GET confirms, POST
does it, sessions end on deactivation, the redirect back to the list, the self and last-admin
guards, audit records, and the access rules."""

import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from permissions import catalog
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users import changes as user_changes

LIST_URL = reverse("users:list")


@pytest.fixture(autouse=True)
def _admin_a_reads_english(admin_a):
    """Assertions below read English text, whatever translations the project ships."""
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.locale = User.Locale.ENGLISH


# --- helpers ------------------------------------------------------------------------------------


def deactivate_url(user_or_id) -> str:
    return reverse("users:deactivate", args=[getattr(user_or_id, "pk", user_or_id)])


def activate_url(user_or_id) -> str:
    return reverse("users:activate", args=[getattr(user_or_id, "pk", user_or_id)])


def sessions_of(user: User) -> list[Session]:
    return [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


def normalised(response) -> str:
    """The body without the per-response random values (CSRF mask, CSP nonce)."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "csrf", body)
    return re.sub(r'nonce="[^"]*"', "nonce", body)


def state(user: User) -> tuple:
    user = User.all_objects.get(pk=user.pk)
    return (user.is_active, user.role, user.password, user.updated_at)


def messages_text(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def inactive_member(org_a):
    return UserFactory(
        organization=org_a, login_id="inactive@a.example.com", name="Inactive B", is_active=False
    )


# --- Deactivate -----------------------------------------------------------------------------------


def test_deactivate_get_shows_a_confirmation_and_changes_nothing(
    admin_client_a, member_client_a, member_a
):
    before = state(member_a)

    response = admin_client_a.get(deactivate_url(member_a))

    assert response.status_code == 200
    assert response.templates[0].name == "users/user_confirm_active.html"
    content = response.content.decode()
    assert "Deactivate Member A?" in content
    assert "signed out everywhere" in content
    assert '<form method="post">' in content
    assert state(member_a) == before
    assert sessions_of(member_a)
    assert not AuditEvent.objects.exists()


def test_deactivate_post_deactivates_signs_out_and_returns_to_the_list(
    admin_client_a, member_client_a, admin_a, member_a
):
    assert sessions_of(member_a)

    response = admin_client_a.post(deactivate_url(member_a))

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    member_a.refresh_from_db()
    assert member_a.is_active is False
    assert sessions_of(member_a) == []
    assert sessions_of(admin_a)
    assert member_client_a.get(LIST_URL)["Location"] == "/login/?next=/users/"
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.USER_DEACTIVATE
    assert (event.actor, event.target, event.organization) == (
        admin_a,
        member_a,
        member_a.organization,
    )
    assert event.changes == {"is_active": [True, False]}
    assert event.target_label == member_a.login_id


def test_deactivate_success_message(admin_client_a, member_a):
    response = admin_client_a.post(deactivate_url(member_a), follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    assert messages_text(response) == ["Member A was deactivated and signed out everywhere."]


def test_deactivated_user_keeps_settings_and_seat(admin_client_a, member_a, org_a):
    GrantFactory(user=member_a, service=catalog.PHONE)
    User.objects.filter(pk=member_a.pk).update(extension="1234")
    seats = User.objects.filter(organization=org_a).count()

    admin_client_a.post(deactivate_url(member_a))

    member_a.refresh_from_db()
    assert member_a.is_active is False
    assert member_a.extension == "1234"
    assert member_a.grants.filter(service=catalog.PHONE).exists()
    assert User.objects.filter(organization=org_a).count() == seats


@pytest.mark.parametrize(
    "next_url",
    ["/users/?q=member&page=2", "/users/?status=active&sort=name&dir=desc"],
)
def test_deactivate_returns_to_a_safe_next_on_the_user_list(admin_client_a, member_a, next_url):
    from_post = admin_client_a.post(deactivate_url(member_a), {"next": next_url})

    assert from_post.status_code == 302
    assert from_post["Location"] == next_url


def test_deactivate_next_from_the_query_string_is_kept_in_the_form(admin_client_a, member_a):
    next_url = "/users/?q=member&page=2"

    page = admin_client_a.get(deactivate_url(member_a), {"next": next_url})
    posted = admin_client_a.post(f"{deactivate_url(member_a)}?next=%2Fusers%2F%3Fq%3Dmember")

    assert 'name="next" value="/users/?q=member&amp;page=2"' in page.content.decode()
    assert 'href="/users/?q=member&amp;page=2"' in page.content.decode()  # Cancel
    assert posted["Location"] == "/users/?q=member"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "https://evil.example/users/",
        "//evil.example/users/",
        "/\\evil.example/users/",
        "/audit/",
        "/login/",
        "javascript:alert(1)",
        "",
    ],
)
def test_deactivate_ignores_a_next_that_is_not_the_user_list(admin_client_a, member_a, next_url):
    response = admin_client_a.post(deactivate_url(member_a), {"next": next_url})

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    member_a.refresh_from_db()
    assert member_a.is_active is False


def test_deactivating_yourself_is_refused(admin_client_a, admin_a, org_a):
    AdminFactory(organization=org_a)  # another admin: the refusal is about yourself
    before = state(admin_a)

    page = admin_client_a.get(deactivate_url(admin_a))
    posted = admin_client_a.post(deactivate_url(admin_a))

    assert page.status_code == 200
    assert "You cannot deactivate yourself." in page.content.decode()
    assert '<form method="post">' not in page.content.decode()  # nothing to confirm
    assert posted.status_code == 400
    assert "You cannot deactivate yourself." in posted.content.decode()
    assert state(admin_a) == before
    assert sessions_of(admin_a)
    assert not AuditEvent.objects.exists()


def test_deactivating_the_last_active_admin_is_refused(admin_client_a, admin_a, org_a, monkeypatch):
    """The acting admin is an active admin when the request starts, so the target can only be the
    last active admin if the actor is demoted concurrently (simulated just before the lock)."""
    other_admin = AdminFactory(organization=org_a, login_id="other.admin@a.example.com")
    AdminFactory(organization=org_a, is_active=False)  # an inactive admin does not count
    before = state(other_admin)
    real_lock = user_changes.contract_lock

    def lock_after_concurrent_demotion(organization):
        User.objects.filter(pk=admin_a.pk).update(role=User.Role.MEMBER)
        return real_lock(organization)

    monkeypatch.setattr(user_changes, "contract_lock", lock_after_concurrent_demotion)

    response = admin_client_a.post(deactivate_url(other_admin))

    assert response.status_code == 400
    assert "last active admin" in response.content.decode()
    assert state(other_admin) == before
    assert not AuditEvent.objects.exists()
    # The concurrent change is rolled back with the refused one; nothing else moved.
    admin_a.refresh_from_db()
    assert admin_a.role == User.Role.ADMIN


def test_deactivating_another_admin_is_allowed_while_an_admin_remains(
    admin_client_a, admin_a, org_a
):
    other_admin = AdminFactory(organization=org_a)

    response = admin_client_a.post(deactivate_url(other_admin))

    assert response.status_code == 302
    other_admin.refresh_from_db()
    assert other_admin.is_active is False


def test_deactivating_an_inactive_user_says_so_and_changes_nothing(admin_client_a, inactive_member):
    before = state(inactive_member)

    response = admin_client_a.post(deactivate_url(inactive_member), follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    assert messages_text(response) == ["Inactive B is already deactivated."]
    assert [m.level_tag for m in response.context["messages"]] == ["info"]
    assert state(inactive_member) == before
    assert not AuditEvent.objects.exists()


# --- Activate -------------------------------------------------------------------------------------


def test_activate_get_shows_a_confirmation_and_changes_nothing(admin_client_a, inactive_member):
    before = state(inactive_member)

    response = admin_client_a.get(activate_url(inactive_member))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Activate Inactive B?" in content
    assert '<form method="post">' in content
    assert state(inactive_member) == before
    assert not AuditEvent.objects.exists()


def test_activate_post_activates_and_returns_to_the_list(admin_client_a, admin_a, inactive_member):
    response = admin_client_a.post(
        activate_url(inactive_member), {"next": "/users/?status=inactive"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/users/?status=inactive"
    inactive_member.refresh_from_db()
    assert inactive_member.is_active is True
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.USER_ACTIVATE
    assert (event.actor, event.target) == (admin_a, inactive_member)
    assert event.changes == {"is_active": [False, True]}


def test_activate_success_message(admin_client_a, inactive_member):
    response = admin_client_a.post(activate_url(inactive_member), follow=True)

    assert messages_text(response) == ["Inactive B was activated."]


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/users/"])
def test_activate_ignores_an_external_next(admin_client_a, inactive_member, next_url):
    response = admin_client_a.post(activate_url(inactive_member), {"next": next_url})

    assert response["Location"] == LIST_URL
    inactive_member.refresh_from_db()
    assert inactive_member.is_active is True


def test_activating_an_active_user_says_so_and_changes_nothing(admin_client_a, member_a):
    before = state(member_a)

    response = admin_client_a.post(activate_url(member_a), follow=True)

    assert messages_text(response) == ["Member A is already active."]
    assert state(member_a) == before
    assert not AuditEvent.objects.exists()


# --- access (both views) --------------------------------------------------------------------------

URLS = {"activate": activate_url, "deactivate": deactivate_url}


@pytest.mark.parametrize("view", list(URLS))
def test_member_gets_403_and_nothing_changes(
    member_client_a, admin_a, member_a, inactive_member, view
):
    targets = [admin_a, member_a, inactive_member]
    before = [state(u) for u in targets]

    responses = []
    for target in targets:
        responses.append(member_client_a.get(URLS[view](target)))
        responses.append(member_client_a.post(URLS[view](target)))

    assert {r.status_code for r in responses} == {403}
    assert [state(u) for u in targets] == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("view", list(URLS))
def test_other_organizations_admin_gets_the_same_404_as_for_a_missing_user(
    admin_client_b, admin_a, member_a, inactive_member, view
):
    missing = User.all_objects.order_by("-pk").first().pk + 1000
    targets = [admin_a, member_a, inactive_member]
    before = [state(u) for u in targets]
    missing_get = admin_client_b.get(URLS[view](missing))
    missing_post = admin_client_b.post(URLS[view](missing))

    for target in targets:
        got = admin_client_b.get(URLS[view](target))
        posted = admin_client_b.post(URLS[view](target))
        assert (got.status_code, posted.status_code) == (404, 404)
        assert normalised(got) == normalised(missing_get)
        assert normalised(posted) == normalised(missing_post)
        assert target.name not in got.content.decode()

    assert (missing_get.status_code, missing_post.status_code) == (404, 404)
    assert [state(u) for u in targets] == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("view", list(URLS))
@pytest.mark.parametrize("user_id", ["0", "9223372036854775808", "99999999999999999999"])
def test_out_of_range_ids_answer_404(admin_client_a, member_a, view, user_id):
    path = f"/users/{user_id}/{view}/"

    assert admin_client_a.get(path).status_code == 404
    assert admin_client_a.post(path).status_code == 404
    member_a.refresh_from_db()
    assert member_a.is_active is True


@pytest.mark.django_db
@pytest.mark.parametrize("view", list(URLS))
def test_anonymous_is_sent_to_sign_in(client, member_a, inactive_member, view):
    before = [state(member_a), state(inactive_member)]

    for target in (member_a, inactive_member):
        for response in (client.get(URLS[view](target)), client.post(URLS[view](target))):
            assert response.status_code == 302
            assert response["Location"] == f"/login/?next=/users/{target.pk}/{view}/"

    assert [state(member_a), state(inactive_member)] == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("view", list(URLS))
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_activation_views_accept_get_and_post_only(
    admin_client_a, member_a, inactive_member, view, method
):
    before = [state(member_a), state(inactive_member)]

    for target in (member_a, inactive_member):
        response = getattr(admin_client_a, method)(URLS[view](target))
        assert response.status_code == 405
        assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}

    assert [state(member_a), state(inactive_member)] == before
    assert not AuditEvent.objects.exists()
