"""The main flows, clicked through in headless Chromium, in Japanese and in English: add a user
with services, find them, edit, deactivate and reactivate through the ⋮ menu; a full contract's
"contact us"; delete through the impact screen and find the calls marked deleted; download the
CSV."""

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from analytics.models import CallRecord
from exports.models import ImportJob
from tests.analytics.factories import CallRecordFactory
from tests.factories import PASSWORD, AdminFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The User List itself (any query string), not a page below it such as /users/new/.
LIST_URL = re.compile(r"/users/(\?.*)?$")

TEXT = {
    "ja": {
        "add": "ユーザーを追加",
        "apply": "適用",
        "edit": "編集",
        "deactivate": "無効化",
        "activate": "有効化",
        "delete": "削除",
        "deactivated": "無効",
        "active": "有効",
        "calls_kept": "通話記録 4 件",
        "contact": "お問い合わせください",
        "deleted": "（削除済み）",
        "csv": "CSV ダウンロード",
        "download": "ダウンロード",
    },
    "en": {
        "add": "Add new user",
        "apply": "Apply",
        "edit": "Edit",
        "deactivate": "Deactivate",
        "activate": "Activate",
        "delete": "Delete",
        "deactivated": "Deactivated",
        "active": "Active",
        "calls_kept": "4 call records remain",
        "contact": "please contact us",
        "deleted": " (Deleted)",
        "csv": "CSV download",
        "download": "Download",
    },
}


def sign_in(new_page, admin, language, **page_options):
    page = new_page(locale="ja-JP" if language == "ja" else "en-US", **page_options)
    page.goto("/login/")
    page.locator("#id_username").fill(admin.login_id)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/users/$"))
    return page


def open_menu(page, name):
    row = page.locator("tbody tr", has_text=name)
    row.locator("details.row-menu summary").click()
    return row


@pytest.mark.parametrize("language", ["ja", "en"])
def test_add_find_edit_deactivate_and_reactivate_a_user(new_page, screenshot, language):
    t = TEXT[language]
    org = OrganizationFactory(slug=f"flow-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"boss.{language}@flow.example.com", locale=language
    )
    # Named without digits: the factory's numbered users ("user2345@…") would match the search
    # for extension 2345 below, depending on how many users earlier tests made.
    for who in ("ichiro", "jiro", "saburo"):
        UserFactory(organization=org, login_id=f"{who}.{language}@flow.example.com", name=who)
    page = sign_in(new_page, admin, language)

    page.get_by_role("link", name=t["add"]).click()
    page.locator("#id_login_id").fill(f"Hanako.Sato.{language}@flow.example.com")
    page.locator("#id_name").fill("佐藤 花子")
    page.locator("#id_password").fill("Spring-2026-go")
    page.locator("#id_extension").fill("2345")
    page.locator("#id_service_phone").check()
    page.locator("#id_service_monitoring").check()
    page.locator("#id_service_call_history").check()
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(LIST_URL)
    user = User.objects.get(login_id_key=f"hanako.sato.{language}@flow.example.com")
    assert user.must_change_password
    assert set(user.grants.values_list("service", flat=True)) == {
        "phone",
        "monitoring",
        "call_history",
    }

    page.locator("#id_q").fill("2345")
    page.get_by_role("button", name=t["apply"]).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("佐藤 花子")
    screenshot(page, f"flow-search-{language}")

    open_menu(page, "佐藤 花子").get_by_role("link", name=t["edit"]).click()
    page.locator("#id_name").fill("佐藤 花子（営業）")
    page.locator("#id_service_monitoring").uncheck()
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/users/\?q=2345"))  # back to the filtered list
    user.refresh_from_db()
    assert user.name == "佐藤 花子（営業）"
    assert "monitoring" not in set(user.grants.values_list("service", flat=True))

    open_menu(page, "佐藤 花子").get_by_role("link", name=t["deactivate"]).click()
    page.get_by_role("button", name=t["deactivate"]).click()
    status = page.locator("tbody tr", has_text="佐藤 花子").locator("td.col-status")
    expect(status).to_have_text(t["deactivated"])
    assert not User.objects.get(pk=user.pk).is_active

    open_menu(page, "佐藤 花子").get_by_role("link", name=t["activate"], exact=True).click()
    page.get_by_role("button", name=t["activate"], exact=True).click()
    expect(status).to_have_text(t["active"])
    assert User.objects.get(pk=user.pk).is_active


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_full_contract_says_to_contact_us(new_page, screenshot, language):
    t = TEXT[language]
    org = OrganizationFactory(slug=f"full-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"boss.{language}@full.example.com", locale=language
    )
    UserFactory.create_batch(2, organization=org)
    org.contract.user_limit = 3
    org.contract.save()
    page = sign_in(new_page, admin, language)
    expect(page.locator("main")).to_contain_text(t["contact"])
    expect(page.get_by_role("link", name=t["add"])).to_have_count(0)
    screenshot(page, f"flow-full-{language}")

    # Posting the form anyway (a second tab, an old page) is refused with the same message.
    page.goto("/users/new/")
    page.locator("#id_login_id").fill(f"late.{language}@full.example.com")
    page.locator("#id_name").fill("Late")
    page.locator("#id_password").fill("Spring-2026-go")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#error-summary")).to_contain_text(t["contact"])
    assert User.objects.filter(organization=org).count() == 3


@pytest.mark.parametrize("language", ["ja", "en"])
def test_delete_through_the_impact_screen_then_find_the_calls_marked_deleted(
    new_page, screenshot, language
):
    t = TEXT[language]
    org = OrganizationFactory(slug=f"del-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"boss.{language}@del.example.com", locale=language
    )
    leaver = UserFactory(organization=org, name="Kato Hana")
    CallRecordFactory.create_batch(4, user=leaver)
    page = sign_in(new_page, admin, language)

    open_menu(page, "Kato Hana").get_by_role("link", name=t["delete"]).click()
    expect(page).to_have_url(re.compile(rf"/users/{leaver.pk}/delete/"))
    expect(page.locator(".impact-kept")).to_contain_text(t["calls_kept"])  # their own count
    screenshot(page, f"flow-delete-{language}")
    page.locator("main form button.btn-danger").click()
    expect(page).to_have_url(LIST_URL)
    expect(page.locator("tbody")).not_to_contain_text("Kato Hana")

    page.goto("/calls/")
    expect(page.locator("tbody").first).to_contain_text(f"Kato Hana{t['deleted']}")
    options = page.locator("#id_user option").all_inner_texts()
    assert not any("Kato Hana" in o for o in options)
    assert CallRecord.objects.filter(user_id=leaver.pk).count() == 4


@pytest.mark.parametrize(
    ("language", "encoding", "codec"),
    [("ja", "shift_jis", "cp932"), ("en", "utf-8-sig", "utf-8-sig")],
)
def test_download_the_csv_in_the_chosen_encoding(new_page, language, encoding, codec):
    t = TEXT[language]
    org = OrganizationFactory(slug=f"csv-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"boss.{language}@csv.example.com", locale=language
    )
    UserFactory(organization=org, login_id="-ops@csv.example.com", name="髙橋 ①")
    page = sign_in(new_page, admin, language)

    page.get_by_role("link", name=t["csv"]).click()
    page.locator(f"input[name=encoding][value={encoding}]").check()
    with page.expect_download() as info:
        page.get_by_role("button", name=t["download"], exact=True).click()
    download = info.value
    assert download.suggested_filename == "users.csv"
    with open(download.path(), "rb") as file:
        data = file.read()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    rows = list(csv.reader(io.StringIO(data.decode(codec), newline="")))
    assert rows[0][0] == ("ログイン ID" if language == "ja" else "Login ID")
    by_login = {r[0]: r for r in rows[1:]}
    assert by_login["'-ops@csv.example.com"][1] == "髙橋 ①"  # neutralised for spreadsheets
    assert admin.login_id in by_login
    assert b"\r\n" in data


def test_the_user_list_fits_a_360_pixel_wide_screen(new_page, screenshot):
    org = OrganizationFactory(slug="narrow")
    admin = AdminFactory(organization=org, login_id="boss@narrow.example.com", locale="ja")
    UserFactory.create_batch(3, organization=org, name="とても長い名前のユーザーさん")
    page = sign_in(new_page, admin, "ja", viewport={"width": 360, "height": 740})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, width  # no sideways scrolling: the table becomes labelled cards
    screenshot(page, "user-list-360-ja")


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without"])
def test_the_import_progress_page_follows_the_job_to_its_result(new_page, javascript):
    """With JavaScript the bar follows the job's progress and the page reloads when it ends;
    without, the page refreshes itself until then."""
    org = OrganizationFactory(slug=f"progress-{int(javascript)}")
    admin = AdminFactory(
        organization=org, login_id=f"boss{int(javascript)}@progress.example.com", locale="en"
    )
    job = ImportJob.objects.create(
        organization=org,
        admin=admin,
        filename="users.csv",
        encoding="utf-8",
        language="en",
        status=ImportJob.Status.RUNNING,
        progress_done=3,
        progress_total=10,
    )
    page = sign_in(new_page, admin, "en", javascript=javascript)
    page.goto(reverse("exports:import_detail", args=[job.pk]))
    expect(page.locator("#import-status")).to_have_text("Importing")
    expect(page.locator("#import-percent")).to_have_text("30%")

    ImportJob.objects.filter(pk=job.pk).update(progress_done=7)
    expect(page.locator("#import-percent")).to_have_text("70%")

    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE,
        result={"added": 2, "updated": 1},
        finished_at=timezone.now(),
    )
    expect(page.get_by_text("Imported: 2 users added, 1 updated.")).to_be_visible()
    expect(page.locator("#import-bar")).to_have_count(0)  # finished: no more refreshing
