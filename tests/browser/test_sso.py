"""Single sign-on in Chromium, in both languages: the sign-in page's "Sign in with SSO", the
login ID, the IdP (a test IdP page served by the live server, signing with a real key), back
through the ACS to the console; and a refusal answered with the translated page."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import AdminFactory, OrganizationFactory
from tests.sso import idp_urls
from tests.sso.conftest import connect
from tests.sso.idp import TestIdp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.sso.idp_urls")]

TEXT = {
    "ja": {
        "sso": "SSO でログイン",
        "continue": "続ける",
        "list": "ユーザー一覧",
        "refused": "シングルサインオンに失敗しました",
    },
    "en": {
        "sso": "Sign in with SSO",
        "continue": "Continue",
        "list": "User List",
        "refused": "Single sign-on did not succeed",
    },
}


@pytest.fixture
def sso_org(live_server):
    def make(language: str):
        org = OrganizationFactory(slug=f"sso-{language}")
        idp = TestIdp(sso_url=f"{live_server.url}/test-idp/sso")
        connect(org, idp)
        admin = AdminFactory(
            organization=org, login_id=f"Admin.{language}@Example.com", locale=language
        )
        idp_urls.CURRENT.update(idp=idp, login_id=f"admin.{language}@example.com")
        return org, admin

    yield make
    idp_urls.CURRENT.clear()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_sso_round_trip_in_chromium(new_page, screenshot, sso_org, language):
    _org, admin = sso_org(language)
    text = TEXT[language]
    page = new_page(locale="ja-JP" if language == "ja" else "en-US")

    page.goto("/login/")
    page.get_by_role("link", name=text["sso"]).click()
    expect(page).to_have_url(re.compile(r"/sso/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(text["sso"])
    screenshot(page, f"sso-start-{language}")
    page.get_by_label(re.compile("ログイン ID|Login ID")).fill(admin.login_id.upper())
    page.get_by_role("button", name=text["continue"]).click()

    # The continue page's script sends the browser on to the IdP at once.
    expect(page).to_have_url(re.compile(r"/test-idp/sso\?SAMLRequest="))
    page.get_by_role("button", name="Send to the service").click()

    expect(page).to_have_url(re.compile(r"/users/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(text["list"])
    expect(page.locator("html")).to_have_attribute("lang", language)
    screenshot(page, f"sso-signed-in-{language}")
    assert User.objects.get(pk=admin.pk).last_login is not None


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_refused_response_shows_the_translated_page(new_page, sso_org, language):
    _org, admin = sso_org(language)
    idp_urls.CURRENT["login_id"] = "nobody@example.com"
    page = new_page(locale="ja-JP" if language == "ja" else "en-US")

    page.goto("/sso/")
    page.get_by_label(re.compile("ログイン ID|Login ID")).fill(admin.login_id)
    page.get_by_role("button", name=TEXT[language]["continue"]).click()
    expect(page).to_have_url(re.compile(r"/test-idp/sso\?SAMLRequest="))
    page.get_by_role("button", name="Send to the service").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(TEXT[language]["refused"])
    expect(page.locator("html")).to_have_attribute("lang", language)
