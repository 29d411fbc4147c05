"""Every page of the console, in Japanese and in English, passes axe-core (WCAG 2.2 A/AA) with no
serious or critical violation, reads in that language only (no English word in the Japanese UI,
no Japanese in the English UI, besides product names and what users typed), and a screenshot of
each is saved (test-artifacts/screenshots)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Organization, User
from analytics.models import (
    BookmarkedFilter,
    CallRecord,
    FunnelTeam,
    Meeting,
    MeetingParticipant,
    TableTheme,
)
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor
from exports.models import ImportJob
from sso.models import SsoConfig
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    CallRecordFactory,
    MeetingFactory,
    MeetingParticipantFactory,
    TableThemeFactory,
)
from tests.browser.conftest import foreign_text
from tests.factories import PASSWORD, AdminFactory, GrantFactory, OrganizationFactory, UserFactory
from tests.services import create_user, user_delete
from tests.sso.conftest import connect
from tests.sso.idp import TestIdp
from users.changes import BatchSpec, Change, apply_changes

pytestmark = pytest.mark.django_db(transaction=True)


def axe_version() -> str:
    import json
    from pathlib import Path

    lock = Path(__file__).resolve().parents[2] / "package-lock.json"
    return json.loads(lock.read_text())["packages"]["node_modules/axe-core"]["version"]


# The cells of the file the walk imports (the report shows them as typed).
IMPORTED_CELLS = ["imported@a11y.example.com", "インポート 一郎", "bad id"]


def user_data() -> list[str]:
    """Everything users typed that pages show as typed, in whatever language it was typed."""
    values = [
        *User.all_objects.values_list("name", flat=True),
        *(u.display_name for u in User.all_objects.all()),
        *User.all_objects.values_list("login_id", flat=True),
        *Organization.objects.values_list("name", flat=True),
        *Organization.objects.values_list("slug", flat=True),
        *Meeting.objects.values_list("title", flat=True),
        *MeetingParticipant.objects.values_list("guest_name", flat=True),
        *TableTheme.objects.values_list("name", flat=True),
        *BookmarkedFilter.objects.values_list("name", flat=True),
        *FunnelTeam.objects.values_list("name", flat=True),
        *CallRecord.objects.values_list("counterpart", flat=True),
        *AuditEvent.objects.values_list("actor_label", flat=True),
        *ImportJob.objects.values_list("filename", flat=True),
        *IMPORTED_CELLS,
        # The identity provider's own identifiers (single sign-on).
        *SsoConfig.objects.values_list("idp_entity_id", flat=True),
        *SsoConfig.objects.values_list("sso_url", flat=True),
        *(
            value
            for certificates in SsoConfig.objects.values_list("certificates", flat=True)
            for cert in certificates
            for value in (cert["subject"], cert["fingerprint"][:16])
        ),
    ]
    return [v for v in values if v]


def _world(language: str):
    org = OrganizationFactory(slug=f"a11y-{language}", name="アクセシビリティ株式会社")
    connect(
        org,
        TestIdp(entity_id=f"https://idp.example.test/a11y-{language}"),
        enabled=False,
        actor=Actor(user=None, label="operator:test"),
    )
    admin = AdminFactory(
        organization=org,
        login_id=f"admin.{language}@a11y.example.com",
        name="管理者 花子",
        locale=language,
    )
    members = [
        UserFactory(
            organization=org,
            login_id=f"m{i}.{language}@a11y.example.com",
            name=f"メンバー {i}",
            extension=str(200 + i),
            is_active=i != 2,
        )
        for i in range(6)
    ]
    for user in members[:3]:
        GrantFactory(user=user, service="phone")
    for user in members:
        CallRecordFactory.create_batch(3, user=user)
    meeting = MeetingFactory(host=members[0], uploader=members[1], access=Meeting.Access.ALL)
    MeetingParticipantFactory(meeting=meeting, user=members[1])
    TableThemeFactory(creator=members[3])
    BookmarkedFilterFactory(creator=members[4])
    doomed = members[5]
    user_delete(actor=Actor(user=admin, label="test"), user=doomed)
    newcomer = create_user(
        actor=Actor(user=admin, label="test"),
        organization=org,
        login_id=f"new.{language}@a11y.example.com",
        name="新人 太郎",
        password="Temp-pass-123",
        locale=language,
    )
    return org, admin, members, meeting, newcomer


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_page_passes_axe_in_both_languages(new_page, axe, screenshot, language, tmp_path):
    _, admin, members, meeting, newcomer = _world(language)
    page = new_page(locale="ja-JP" if language == "ja" else "en-US")
    found = {}
    mixed = {}

    def check(name):
        expect(page.locator("h1").first).to_be_visible()
        found[name] = axe(page)
        # Text in <code> is an identifier to copy (URLs, a NameID format, a certificate).
        codes = page.locator("main code").all_inner_texts()
        mixed[name] = foreign_text(page, language, user_data() + codes)
        screenshot(page, f"{name}-{language}")

    page.goto("/login/")
    check("signin")
    page.goto("/sso/")
    check("sso-start")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    check("sso-start-errors")
    page.goto("/login/")
    # Errors on the sign-in form, too.
    page.locator("#id_username").fill(admin.login_id)
    page.locator("#id_password").fill("wrong password")
    page.locator("main form button[type=submit]").click()
    check("signin-error")

    # The forced password change, as the new user with a temporary password.
    page.locator("#id_username").fill(newcomer.login_id)
    page.locator("#id_password").fill("Temp-pass-123")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/password/change/"))
    check("password-change")
    page.locator('header form[action="/logout/"] button').click()  # sign out

    page.locator("#id_username").fill(admin.login_id)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/users/$"))
    check("user-list")
    page.locator("details.row-menu summary").first.click()
    check("user-list-menu")

    # The bulk confirmation: a refused user (the admin themself) with the reason, and a
    # deletion's summed impact.
    for action, ticked in (("deactivate", [admin, *members[:2]]), ("delete", members[:2])):
        page.goto("/users/")
        for user in ticked:
            page.locator(f'input[name="ids"][value="{user.pk}"]').check()
        page.locator("#bulk-action").select_option(action)
        page.locator('#bulk-form button[name="scope"][value="selected"]').click()
        expect(page).to_have_url(re.compile(r"/users/bulk/$"))
        check(f"bulk-{action}")

    target = members[0]
    User.objects.filter(pk=target.pk).update(deactivate_at=timezone.now() + timedelta(days=30))
    batch = apply_changes(
        organization=admin.organization,
        actor=Actor(user=admin, label=admin.login_id),
        changes=[
            Change(
                user_id=UserFactory(organization=admin.organization).pk, fields={"is_active": False}
            )
        ],
        batch=BatchSpec(kind=ChangeBatch.Kind.DEACTIVATE),
    ).batch
    pages = [
        ("user-detail", f"/users/{target.pk}/"),
        ("batch", f"/audit/batches/{batch.pk}/"),
        ("batch-undo", f"/audit/batches/{batch.pk}/undo/"),
        ("user-add", "/users/new/"),
        ("user-edit", f"/users/{target.pk}/edit/"),
        ("user-deactivate", f"/users/{target.pk}/deactivate/"),
        ("user-activate", f"/users/{members[2].pk}/activate/"),
        ("user-delete", f"/users/{target.pk}/delete/"),
        ("export", "/users/export/"),
        ("import", "/users/import/"),
        ("audit", "/audit/"),
        ("audit-export", "/audit/export/"),
        ("calls", "/calls/"),
        ("dashboard", "/dashboard/"),
        ("meetings", "/meetings/"),
        ("meeting", f"/meetings/{meeting.pk}/"),
        ("provisioning", "/provisioning/"),
        ("sso-settings", "/organization/sso/"),
        ("not-found", "/users/999999999/edit/"),
    ]
    for name, url in pages:
        page.goto(url)
        check(name)

    # A SCIM token just created: shown once, with the list of tokens below.
    page.goto("/provisioning/")
    page.locator("#id_name").fill("Microsoft Entra ID")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#new-token")).to_be_visible()
    check("provisioning-token-created")

    # A form with errors: the summary at the top, errors next to the fields.
    page.goto("/users/new/")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#error-summary")).to_be_visible()
    check("user-add-errors")

    # An import report.
    page.goto("/users/import/")
    csv_path = tmp_path / "users.csv"
    csv_path.write_text(
        "Login ID,User name,MiiTel Phone\nimported@a11y.example.com,インポート 一郎,1\nbad id,,2\n",
        encoding="utf-8",
    )
    page.locator("#id_file").set_input_files(str(csv_path))
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/users/import/[0-9a-f-]+/$"))
    check("import-report")

    # 403: a member's view.
    member_page = new_page(locale="ja-JP" if language == "ja" else "en-US")
    member = members[1]
    member.locale = language
    member.save(update_fields=["locale"])
    member_page.goto("/login/")
    member_page.locator("#id_username").fill(member.login_id)
    member_page.locator("#id_password").fill(PASSWORD)
    member_page.locator("main form button[type=submit]").click()
    page = member_page
    page.goto("/users/")
    check("forbidden")

    assert len(found) >= 19
    assert page.evaluate("() => window.axe.version") == axe_version()
    problems = {name: v for name, v in found.items() if v}
    assert problems == {}, problems
    other_language = {name: words for name, words in mixed.items() if words}
    assert other_language == {}, other_language


def test_user_list_and_its_menu_work_with_the_keyboard_alone(new_page, screenshot):
    org = OrganizationFactory(slug="keyboard")
    admin = AdminFactory(organization=org, login_id="kb@keyboard.example.com", locale="en")
    target = UserFactory(
        organization=org, login_id="target@keyboard.example.com", name="Aaron Target"
    )
    page = new_page(locale="en-US")
    page.goto("/login/")
    for _ in range(10):  # skip link, brand, then the form
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "id_username":
            break
    page.keyboard.type(admin.login_id)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/users/$"))

    # Tab to the first row's ⋮ menu, open it with Enter, go to "Deactivate", press Enter.
    summary = page.locator("details.row-menu summary").first
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName") == "SUMMARY":
            break
    # (The row starts with its checkbox cell, empty text.)
    assert (
        page.evaluate("() => document.activeElement.closest('tr').innerText")
        .lstrip()
        .startswith("Aaron Target")
    )
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")
    expect(summary.locator("xpath=..")).to_have_attribute("open", "")
    screenshot(page, "keyboard-menu-en")
    for _ in range(5):
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Deactivate":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Deactivate"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/users/{target.pk}/deactivate/"))
    # The confirmation's button is reachable and activates with the keyboard.
    button = page.get_by_role("button", name="Deactivate")
    button.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/users/"))
    target.refresh_from_db()
    assert target.is_active is False

    # Escape closes an open menu and returns focus to its ⋮ button.
    page.locator("details.row-menu summary").first.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.querySelector('details.row-menu[open]')") is None
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    assert User.objects.get(pk=target.pk).is_active is False


@pytest.mark.parametrize(
    ("language", "injected", "expected"),
    [("ja", "保存 Save しました", ["Save"]), ("en", "Saved 保存", ["保存"])],
)
def test_the_language_check_reports_text_of_the_other_language(
    new_page, language, injected, expected
):
    """The harness itself can fail: a word of the other language on the sign-in page."""
    page = new_page(locale="ja-JP" if language == "ja" else "en-US")
    page.goto("/login/")
    assert foreign_text(page, language, []) == []
    page.evaluate(
        "(text) => { const p = document.createElement('p'); p.textContent = text;"
        " document.querySelector('main').appendChild(p); }",
        injected,
    )
    assert foreign_text(page, language, []) == expected


def test_the_axe_check_reports_a_real_violation(new_page, axe):
    """The harness itself can fail: an unlabelled input is a critical violation."""
    page = new_page(locale="en-US")
    page.goto("/login/")
    assert axe(page) == []
    page.evaluate(
        "() => { const i = document.createElement('input'); i.type = 'text';"
        " document.querySelector('main').appendChild(i); }"
    )
    assert "label" in {v["id"] for v in axe(page)}
