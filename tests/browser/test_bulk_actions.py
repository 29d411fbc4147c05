"""Bulk actions clicked through in headless Chromium: tick rows (or "select all on this page"),
confirm, apply, find the batch in the audit log and undo it; without JavaScript, every user
matching the search and filter."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from audit.models import ChangeBatch
from permissions.models import ServiceGrant
from tests.factories import AdminFactory, OrganizationFactory, UserFactory

from .test_flows import LIST_URL, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {
    "ja": {
        "selected": "選択したユーザーで次へ",
        "page": "このページのユーザーをすべて選択",
        "apply": "2 名に適用",
        "apply_all": "3 名に適用",
        "done": "2 名のユーザーを無効化",
        "matching": "検索・絞り込み条件に一致する",
        "search": "適用",
        "batch": "一括操作の一部：詳細と取り消し",
        "undo_link": "この一括操作を取り消す…",
        "undo": "取り消し",
        "undone": "一括操作を取り消しました",
    },
    "en": {
        "selected": "Continue with the selected users",
        "page": "Select all on this page",
        "apply": "Apply to 2 users",
        "apply_all": "Apply to 3 users",
        "done": "2 users were deactivated",
        "matching": "matching this search and filter",
        "search": "Apply",
        "batch": "Part of a batch: details and undo",
        "undo_link": "Undo this batch…",
        "undo": "Undo",
        "undone": "The batch was undone",
    },
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_select_confirm_apply_and_the_audit_log_shows_the_batch(new_page, screenshot, language):
    t = TEXT[language]
    org = OrganizationFactory(slug=f"bulk-{language}")
    admin = AdminFactory(
        organization=org, login_id=f"boss.{language}@bulk.example.com", locale=language
    )
    leaving = [
        UserFactory(organization=org, name=name, login_id=f"{name}.{language}@bulk.example.com")
        for name in ("ichiro", "jiro")
    ]
    staying = UserFactory(
        organization=org, name="saburo", login_id=f"saburo.{language}@bulk.example.com"
    )
    page = sign_in(new_page, admin, language)

    for user in leaving:
        page.locator(f'input[name="ids"][value="{user.pk}"]').check()
    page.locator("#bulk-action").select_option("deactivate")
    screenshot(page, f"bulk-list-{language}")
    page.get_by_role("button", name=t["selected"]).click()

    expect(page).to_have_url(re.compile(r"/users/bulk/$"))
    expect(page.locator('[data-count="changing"]')).to_have_text("2")
    screenshot(page, f"bulk-confirm-{language}")
    page.get_by_role("button", name=t["apply"]).click()

    expect(page).to_have_url(LIST_URL)
    expect(page.locator(".messages, [role=status], main").first).to_contain_text(t["done"])
    assert [u.is_active for u in User.objects.filter(pk__in=[u.pk for u in leaving])] == [
        False,
        False,
    ]
    assert User.objects.get(pk=staying.pk).is_active
    batch = ChangeBatch.objects.get(organization=org)
    assert (batch.kind, batch.size) == ("deactivate", 2)

    page.goto("/audit/")
    for user in leaving:
        expect(page.locator("main")).to_contain_text(user.login_id)
    screenshot(page, f"bulk-audit-{language}")

    # Undo, from the audit log: the batch's page, the undo's confirmation, then the undo.
    page.get_by_role("link", name=t["batch"]).first.click()
    expect(page).to_have_url(re.compile(rf"/audit/batches/{batch.pk}/$"))
    page.get_by_role("link", name=t["undo_link"]).click()
    expect(page).to_have_url(re.compile(rf"/audit/batches/{batch.pk}/undo/$"))
    screenshot(page, f"bulk-undo-{language}")
    page.get_by_role("button", name=t["undo"], exact=True).click()
    expect(page.locator("main")).to_contain_text(t["undone"])
    assert all(u.is_active for u in User.objects.filter(pk__in=[u.pk for u in leaving]))
    assert ChangeBatch.objects.get(organization=org, undo_of=batch).size == 2


def test_select_all_on_this_page_ticks_every_row(new_page):
    org = OrganizationFactory(slug="bulk-page")
    admin = AdminFactory(organization=org, login_id="boss@bulk-page.example.com", locale="en")
    UserFactory.create_batch(3, organization=org)
    page = sign_in(new_page, admin, "en")

    page.get_by_label(TEXT["en"]["page"]).check()

    boxes = page.locator('input[name="ids"]')
    expect(boxes).to_have_count(4)
    for i in range(4):
        expect(boxes.nth(i)).to_be_checked()
    page.locator("#bulk-action").select_option("grant")
    page.locator("#bulk-service").select_option("call_history")
    page.get_by_role("button", name=TEXT["en"]["selected"]).click()
    expect(page.locator('[data-count="selected"]')).to_have_text("4")


def test_without_javascript_all_users_matching_the_filter(new_page, screenshot):
    org = OrganizationFactory(slug="bulk-nojs")
    admin = AdminFactory(organization=org, login_id="boss@bulk-nojs.example.com", locale="en")
    team = [UserFactory(organization=org, name=f"Night shift {i}") for i in range(3)]
    UserFactory(organization=org, name="Day shift")
    page = sign_in(new_page, admin, "en", javascript=False)

    # The page toggle needs JavaScript: it stays hidden without it.
    expect(page.get_by_label(TEXT["en"]["page"])).to_be_hidden()
    page.locator("#id_q").fill("Night")
    page.get_by_role("button", name=TEXT["en"]["search"], exact=True).click()
    page.locator("#bulk-action").select_option("grant")
    page.locator("#bulk-service").select_option("call_history")
    page.get_by_role("button", name=re.compile(TEXT["en"]["matching"])).click()

    expect(page.locator('[data-count="selected"]')).to_have_text("3")
    screenshot(page, "bulk-confirm-nojs")
    page.get_by_role("button", name=TEXT["en"]["apply_all"]).click()

    expect(page).to_have_url(LIST_URL)
    granted = set(
        ServiceGrant.objects.filter(service="call_history").values_list("user_id", flat=True)
    )
    assert granted == {u.pk for u in team}
