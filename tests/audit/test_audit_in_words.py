"""The audit log in words, in the viewer's language: field names, services, roles, statuses and
booleans (never a field code, a Python value or a list literal); a deleted user by name, marked
deleted; filtered by the user acted on; downloaded as CSV in the user export's three encodings."""

import csv
import io
import re

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Actor
from permissions import catalog
from tests.factories import GrantFactory, UserFactory
from tests.services import create_user, update_user, user_delete

AUDIT_URL = reverse("audit:list")
EXPORT_URL = reverse("audit_export")


def as_admin(admin):
    return Actor(user=admin, label=admin.login_id, ip_address="198.51.100.4")


@pytest.fixture
def history(admin_a, member_a, org_a):
    """Edits of every kind made through the services, then a deletion."""
    actor = as_admin(admin_a)
    update_user(
        actor=actor,
        user=member_a,
        data={"locale": "en", "role": User.Role.ADMIN, "extension": "321"},
        grants={catalog.PHONE: "", catalog.MEETING_ACCESS: catalog.MEETING_ACCESS_HOST},
    )
    update_user(actor=actor, user=member_a, data={"is_active": False})
    leaver = UserFactory(organization=org_a, name="退職 次郎", login_id="leaver@a.example.com")
    GrantFactory(user=leaver, service=catalog.CALL_HISTORY)
    user_delete(actor=actor, user=leaver)
    return {"leaver": leaver}


def changes_shown(content: str) -> list[tuple[str, str]]:
    return re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", content)


@pytest.mark.parametrize(
    ("language", "expected", "forbidden"),
    [
        (
            "en",
            [
                ("Language", "Japanese → English"),
                ("Role", "Member → Admin"),
                ("Extension number", "— → 321"),
                ("Services", "— → Edit meeting access permission: Host only, MiiTel Phone"),
                ("Status", "Active → Deactivated"),
            ],
            ["日本語", "管理者"],
        ),
        (
            "ja",
            [
                ("言語", "日本語 → 英語"),
                ("ロール", "メンバー → 管理者"),
                ("内線番号", "— → 321"),
                ("利用サービス", "— → 会議履歴単位の閲覧制限設定: ホストのみ, MiiTel Phone"),
                ("ステータス", "有効 → 無効"),
            ],
            ["Deactivated", "Member →"],
        ),
    ],
)
def test_changes_read_in_the_viewers_language(
    admin_client_a, admin_a, history, language, expected, forbidden
):
    User.objects.filter(pk=admin_a.pk).update(locale=language)

    content = admin_client_a.get(AUDIT_URL).content.decode()

    shown = changes_shown(content)
    for pair in expected:
        assert pair in shown, (pair, shown)
    for code in ("login_id", "is_active", "meeting_access=host", "True", "False", "['", "[]"):
        assert f">{code}<" not in content and f"{code} →" not in content, code
        assert f"→ {code}" not in content, code
    for word in forbidden:
        assert word not in "".join(v for _f, v in shown), word


def test_a_deleted_user_is_shown_by_name_marked_deleted(admin_client_a, admin_a, history):
    User.objects.filter(pk=admin_a.pk).update(locale="en")
    content = admin_client_a.get(AUDIT_URL, {"action": "user_delete"}).content.decode()
    assert "退職 次郎 (Deleted)" in content
    assert "leaver@a.example.com" in content  # the login ID it had, recorded then
    assert ("Services", "Call History → —") in changes_shown(content)

    User.objects.filter(pk=admin_a.pk).update(locale="ja")
    content = admin_client_a.get(AUDIT_URL, {"action": "user_delete"}).content.decode()
    assert "退職 次郎（削除済み）" in content


def test_a_field_empty_before_and_after_is_not_listed(admin_client_a, admin_a, org_a):
    create_user(
        actor=as_admin(admin_a),
        organization=org_a,
        login_id="plain@a.example.com",
        name="Plain",
        password="Plain-pass-2026",
    )
    User.objects.filter(pk=admin_a.pk).update(locale="en")

    content = admin_client_a.get(AUDIT_URL, {"action": "user_create"}).content.decode()

    fields = [field for field, _value in changes_shown(content)]
    assert "User name" in fields
    assert "Extension number" not in fields  # none then, none now
    assert "Services" not in fields


def test_filter_by_the_user_acted_on(admin_client_a, admin_a, member_a, history):
    User.objects.filter(pk=admin_a.pk).update(locale="en")
    leaver = history["leaver"]

    content = admin_client_a.get(AUDIT_URL, {"user": member_a.pk}).content.decode()
    targets = set(re.findall(r'<a href="\?user=(\d+)"', content))
    assert targets == {str(member_a.pk)}
    assert "Showing what was done to Member A." in content
    deleted = admin_client_a.get(AUDIT_URL, {"user": leaver.pk}).content.decode()
    assert "User deleted" in deleted
    assert "Showing what was done to 退職 次郎 (Deleted)." in deleted
    # By name too, through the text filter (the user's name, not only the login ID then).
    by_name = admin_client_a.get(AUDIT_URL, {"target": "退職"}).content.decode()
    assert "User deleted" in by_name


def test_a_user_of_another_organization_filters_nothing(admin_client_a, admin_b, history):
    everything = admin_client_a.get(AUDIT_URL).content.decode()

    foreign = admin_client_a.get(AUDIT_URL, {"user": admin_b.pk}).content.decode()

    assert "Showing what was done to" not in foreign
    assert foreign.count("<tr>") == everything.count("<tr>")
    assert admin_b.login_id not in foreign


@pytest.mark.parametrize(
    ("encoding", "codec", "bom"),
    [("utf-8", "utf-8", False), ("utf-8-sig", "utf-8-sig", True), ("shift_jis", "cp932", False)],
)
def test_the_log_downloads_as_csv_in_each_encoding(
    admin_client_a, admin_a, history, encoding, codec, bom
):
    User.objects.filter(pk=admin_a.pk).update(locale="ja")

    response = admin_client_a.post(EXPORT_URL, {"encoding": encoding, "action": "user_delete"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xef\xbb\xbf") == bom
    rows = list(csv.reader(io.StringIO(data.decode(codec), newline="")))
    assert rows[0][:4] == ["日時", "操作者", "操作者のログイン ID", "操作"]
    assert len(rows) == 2  # the filter came along: the one deletion
    row = rows[1]
    assert row[3] == "ユーザーを削除"
    assert row[5] == "退職 次郎（削除済み）"
    assert row[6] == "leaver@a.example.com"
    assert "利用サービス: 通話履歴 → （なし）" in row[7]
    assert row[8] == "198.51.100.4"
    download = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).latest("id")
    assert download.detail == f"audit log encoding={encoding}"
    assert download.actor_id == admin_a.pk


def test_a_name_shift_jis_cannot_hold_is_named_before_any_byte(admin_client_a, admin_a, org_a):
    User.objects.filter(pk=admin_a.pk).update(locale="en")
    odd = UserFactory(organization=org_a, name="Zoë 🙂")
    update_user(actor=as_admin(admin_a), user=odd, data={"extension": "555"})
    before = AuditEvent.objects.count()

    response = admin_client_a.post(EXPORT_URL, {"encoding": "shift_jis"})

    assert response.status_code == 400
    content = response.content.decode()
    assert "Shift_JIS cannot hold 1 event." in content
    assert "Zoë 🙂" in content
    assert AuditEvent.objects.count() == before  # nothing downloaded, nothing recorded
    assert admin_client_a.post(EXPORT_URL, {"encoding": "utf-8-sig"}).status_code == 200


def test_the_download_page_keeps_the_filters_and_counts_the_events(admin_client_a, history):
    response = admin_client_a.get(EXPORT_URL, {"action": "user_delete"})

    content = response.content.decode()
    assert response.status_code == 200
    assert '<input type="hidden" name="action" value="user_delete">' in content
    assert re.search(r"1 (event|件)", content)


def test_another_organizations_download_holds_none_of_these_events(admin_client_b, history):
    response = admin_client_b.post(EXPORT_URL, {"encoding": "utf-8"})

    data = b"".join(response.streaming_content).decode()
    assert "leaver@a.example.com" not in data
    assert "退職" not in data
