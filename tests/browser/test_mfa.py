"""2-step verification in headless Chromium, in Japanese and in English: an admin whose
organization requires it enrols an authenticator app (the code computed with pyotp from the key
the page shows) and later signs in with it; another adds a passkey on the security page and signs
in with it through Chromium's virtual authenticator (DevTools protocol WebAuthn domain). Every
page passes axe-core. Passkeys need an RP ID that is a domain: the live server is
http://localhost:<port>."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from mfa.models import RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.factories import PASSWORD, AdminFactory, OrganizationFactory
from tests.mfa.factories import require_mfa

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {
    "ja": {
        "enrol": "2段階認証を設定",
        "verify": "2段階認証",
        "codes": "リカバリーコード",
        "continue": "保存しました：続ける",
        "list": "ユーザー一覧",
        "security": "ログインとセキュリティ",
        "add_passkey": "パスキーを追加",
        "use_passkey": "パスキーを使う",
        "confirm": "確認して追加",
        "verify_button": "確認",
    },
    "en": {
        "enrol": "Set up 2-step verification",
        "verify": "2-step verification",
        "codes": "Your recovery codes",
        "continue": "I have saved them: continue",
        "list": "User List",
        "security": "Sign-in and security",
        "add_passkey": "Add a passkey",
        "use_passkey": "Use your passkey",
        "confirm": "Confirm and add",
        "verify_button": "Verify",
    },
}


def locale_of(language: str) -> str:
    return "ja-JP" if language == "ja" else "en-US"


def password_step(page, login_id: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(login_id)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()


def virtual_authenticator(page) -> None:
    """A platform authenticator with resident keys and user verification (a passkey)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


@pytest.mark.parametrize("language", ["ja", "en"])
def test_required_enrolment_with_an_app_then_sign_in_with_its_code(
    new_page, live_server, axe, screenshot, language
):
    assert live_server.url.startswith("http://localhost:")
    org = OrganizationFactory(slug=f"mfa-app-{language}")
    require_mfa(org)
    admin = AdminFactory(
        organization=org, login_id=f"app.{language}@mfa.example.com", locale=language
    )
    text = TEXT[language]
    page = new_page(locale=locale_of(language))
    found = {}

    password_step(page, admin.login_id)
    expect(page).to_have_url(re.compile(r"/login/enrol/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(text["enrol"])
    expect(page.locator("img.qr")).to_be_visible()
    found["enrol"] = axe(page)
    screenshot(page, f"mfa-enrol-{language}")
    # Nothing else is reachable before enrolment.
    page.goto("/users/")
    expect(page).to_have_url(re.compile(r"/login/enrol/$"))

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("#id_code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=text["confirm"]).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(text["codes"])
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-z]{5}-[0-9a-z]{5}", c) for c in codes)
    found["codes"] = axe(page)
    screenshot(page, f"mfa-recovery-codes-{language}")
    page.get_by_role("link", name=text["continue"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["list"])
    assert TOTPDevice.objects.filter(user=admin).count() == 1
    assert RecoveryCode.objects.filter(user=admin).count() == 10

    # Sign out, and back in: the password, then the code of the next time step.
    page.locator("header form[action='/logout/'] button").click()
    password_step(page, admin.login_id)
    expect(page).to_have_url(re.compile(r"/login/verify/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(text["verify"])
    found["verify"] = axe(page)
    screenshot(page, f"mfa-verify-{language}")
    page.locator("#id_code").fill("000000")
    page.get_by_role("button", name=text["verify_button"], exact=True).click()
    expect(page.locator("#error-summary")).to_be_visible()
    found["verify-error"] = axe(page)
    # The enrolment used this time step's code: the next step's (within the drift window).
    page.locator("#id_code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name=text["verify_button"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(text["list"])

    page.goto("/account/security/")
    expect(page.get_by_role("heading", level=1)).to_have_text(text["security"])
    found["security"] = axe(page)
    screenshot(page, f"mfa-security-{language}")
    for name, url in (
        ("totp-add", "/account/security/totp/"),
        ("passkey-add", "/account/security/passkey/"),
        ("recovery", "/account/security/recovery-codes/"),
        ("policy", "/organization/security/"),
    ):
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        found[name] = axe(page)
        screenshot(page, f"mfa-{name}-{language}")
    problems = {name: v for name, v in found.items() if v}
    assert problems == {}, problems


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_passkey_added_on_the_security_page_signs_in(new_page, axe, screenshot, language):
    org = OrganizationFactory(slug=f"mfa-key-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"key.{language}@mfa.example.com", locale=language
    )
    text = TEXT[language]
    page = new_page(locale=locale_of(language))
    virtual_authenticator(page)

    password_step(page, admin.login_id)  # no method yet: straight in
    expect(page.get_by_role("heading", level=1)).to_have_text(text["list"])
    page.goto("/account/security/passkey/")
    button = page.get_by_role("button", name=text["add_passkey"])
    expect(button).to_be_visible()  # JavaScript and WebAuthn are here
    page.locator("#passkey_name").fill("Chromium")
    page.locator("#passkey_password").fill(PASSWORD)
    button.click()

    expect(page.get_by_role("heading", level=1)).to_have_text(text["codes"])
    credential = WebAuthnCredential.objects.get(user=admin)
    assert credential.name == "Chromium" and credential.transports == ["internal"]
    page.get_by_role("link", name=text["continue"]).click()

    page.locator("header form[action='/logout/'] button").click()
    password_step(page, admin.login_id)
    expect(page).to_have_url(re.compile(r"/login/verify/$"))
    found = {"verify-passkey": axe(page)}
    screenshot(page, f"mfa-verify-passkey-{language}")
    page.get_by_role("button", name=text["use_passkey"]).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(text["list"])
    credential.refresh_from_db()
    assert credential.last_used_at is not None
    assert found == {"verify-passkey": []}


def test_without_webauthn_the_page_says_so_and_other_methods_remain(new_page):
    org = OrganizationFactory(slug="mfa-nojs")
    admin = AdminFactory(organization=org, login_id="nojs@mfa.example.com", locale="en")
    page = new_page(locale="en-US", javascript=False)
    password_step(page, admin.login_id)
    page.goto("/account/security/passkey/")

    expect(
        page.get_by_text("Passkeys need JavaScript and a browser that supports them.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Add a passkey")).to_be_hidden()


def test_the_enrolment_page_works_at_360_pixels_and_with_the_keyboard(new_page, screenshot):
    org = OrganizationFactory(slug="mfa-narrow")
    require_mfa(org)
    admin = AdminFactory(organization=org, login_id="narrow@mfa.example.com", locale="en")
    page = new_page(locale="en-US", viewport={"width": 360, "height": 800})

    password_step(page, admin.login_id)
    expect(page).to_have_url(re.compile(r"/login/enrol/$"))
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, width
    screenshot(page, "mfa-enrol-360-en")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("#id_code").focus()
    page.keyboard.type(pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
