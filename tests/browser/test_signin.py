"""An admin signs in with a temporary password, must choose their own, and lands on the
console, in Japanese and in English."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from audit.services import Actor
from tests.factories import OrganizationFactory
from tests.services import create_user
from users.changes import generate_temporary_password

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {
    "ja": {"title": "ログイン", "change": "パスワードを変更", "list": "ユーザー一覧"},
    "en": {"title": "Sign in", "change": "Change your password", "list": "User List"},
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_admin_with_temporary_password_is_made_to_change_it_then_reaches_the_console(
    new_page, screenshot, language
):
    org = OrganizationFactory(slug=f"browser-{language}")
    temporary = generate_temporary_password()
    create_user(
        actor=Actor(user=None, label="operator:test"),
        organization=org,
        login_id=f"Admin.{language}@Example.com",
        name="管理者 花子" if language == "ja" else "Hanako Admin",
        password=temporary,
        role=User.Role.ADMIN,
        locale=language,
    )
    page = new_page(locale="ja-JP" if language == "ja" else "en-US")

    page.goto("/users/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/users/"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    screenshot(page, f"signin-{language}")
    page.get_by_label(re.compile("ログイン ID|Login ID")).fill(f"admin.{language}@example.com")
    page.get_by_label(re.compile("^(パスワード|Password)")).fill(temporary)
    page.get_by_role("button", name=re.compile("ログイン|Sign in")).click()

    expect(page).to_have_url(re.compile(r"/password/change/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(TEXT[language]["change"])
    screenshot(page, f"password-change-{language}")
    page.locator("#id_old_password").fill(temporary)
    page.locator("#id_new_password1").fill("My-own-pass-42")
    page.locator("#id_new_password2").fill("My-own-pass-42")
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/users/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TEXT[language]["list"])
    user = User.objects.get(login_id_key=f"admin.{language}@example.com")
    assert user.must_change_password is False
    assert user.check_password("My-own-pass-42")
