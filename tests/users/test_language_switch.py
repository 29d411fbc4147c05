"""The language switch in the header of every page: a signed-in user's own locale changes at
once (the page it returns to, and the messages, read in the new language); before sign-in a
cookie remembers the choice. POST only, with a CSRF token; nothing else of the user changes."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import PASSWORD, AdminFactory

URL = reverse("language")


def switch(client, language, next_url="/users/"):
    return client.post(URL, {"language": language, "next": next_url})


@pytest.mark.parametrize("page", ["/users/", "/audit/", "/calls/", "/dashboard/", "/meetings/"])
def test_every_console_page_offers_the_other_language(admin_client_a, admin_a, page):
    content = admin_client_a.get(page).content.decode()

    assert f'action="{URL}"' in content
    assert '<button type="submit" name="language" value="en"' in content  # admin_a reads ja
    assert f'name="next" value="{page}"' in content


def test_switching_changes_the_users_own_locale_and_the_next_page_at_once(
    admin_client_a, admin_a, member_a
):
    before = User.objects.values("name", "login_id", "role", "is_active").get(pk=admin_a.pk)

    response = switch(admin_client_a, "en", "/users/?q=member")

    assert response.status_code == 302
    assert response["Location"] == "/users/?q=member"
    admin_a.refresh_from_db()
    assert admin_a.locale == "en"
    assert User.objects.values("name", "login_id", "role", "is_active").get(pk=admin_a.pk) == before
    assert User.objects.get(pk=member_a.pk).locale == "ja"  # only one's own
    page = admin_client_a.get(response["Location"]).content.decode()
    assert '<html lang="en">' in page
    assert "User List" in page and "ユーザー一覧" not in page
    event = AuditEvent.objects.filter(target=admin_a).latest("id")
    assert event.changes == {"locale": ["ja", "en"]}
    assert event.actor_id == admin_a.pk

    back = switch(admin_client_a, "ja")
    assert back.status_code == 302
    assert "ユーザー一覧" in admin_client_a.get("/users/").content.decode()


def test_an_unknown_language_changes_nothing(admin_client_a, admin_a):
    response = switch(admin_client_a, "fr")

    assert response.status_code == 302
    assert User.objects.get(pk=admin_a.pk).locale == "ja"
    assert not AuditEvent.objects.filter(target=admin_a, action="user_update").exists()


@pytest.mark.parametrize("next_url", ["https://evil.example.com/", "//evil.example.com/x", ""])
def test_it_never_redirects_off_the_site(admin_client_a, next_url):
    response = switch(admin_client_a, "en", next_url)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_get_is_refused(admin_client_a, admin_a):
    assert admin_client_a.get(URL, {"language": "en"}).status_code == 405
    assert User.objects.get(pk=admin_a.pk).locale == "ja"


def test_without_a_csrf_token_nothing_changes(admin_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    client.get("/users/")

    response = client.post(URL, {"language": "en", "next": "/users/"})

    assert response.status_code == 403
    assert User.objects.get(pk=admin_a.pk).locale == "ja"


@pytest.mark.django_db
def test_before_sign_in_a_cookie_keeps_the_choice(client):
    assert (
        '<html lang="ja">'
        in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    )

    response = client.post(URL, {"language": "en", "next": reverse("login")})

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="en">' in page
    assert 'value="ja"' in page  # now offering Japanese


@pytest.mark.django_db
def test_a_user_with_a_temporary_password_can_switch_on_the_change_page(client, org_a):
    user = AdminFactory(organization=org_a, locale="ja", must_change_password=True)
    client.post(reverse("login"), {"username": user.login_id, "password": PASSWORD})

    response = switch(client, "en", reverse("password_change"))

    assert response["Location"] == reverse("password_change")
    assert User.objects.get(pk=user.pk).locale == "en"
    assert "Change your password" in client.get(reverse("password_change")).content.decode()


def test_an_error_page_offers_the_switch_without_echoing_its_url(admin_client_a, admin_a):
    page = admin_client_a.get("/users/999999/edit/")

    assert page.status_code == 404
    content = page.content.decode()
    assert 'name="next" value=""' in content
    assert "999999" not in content
    response = switch(admin_client_a, "en", "")
    assert response["Location"] == reverse("home")
    assert User.objects.get(pk=admin_a.pk).locale == "en"
