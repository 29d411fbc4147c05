"""The import's report page: each changed cell of an update as its old and its new value, and
the rows that change something listed before the unchanged ones."""

import re

from django.urls import reverse

from accounts.models import User
from permissions import catalog
from tests.exports.test_import import make_csv, same, upload
from tests.factories import GrantFactory, UserFactory


def test_an_update_row_shows_each_changed_cell_old_and_new(admin_client_a, org_a, admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    user = UserFactory(organization=org_a, login_id="taro@a.example.com", name="Taro")
    GrantFactory(user=user, service=catalog.PHONE)
    job = upload(admin_client_a, make_csv([same(user, name="Jiro", phone="0", active="0")]))

    row = job.report["rows"][0]
    assert row["status"] == "update"
    assert row["diff"] == [
        ["User name", "Taro", "Jiro"],
        ["Active", "Yes", "No"],
        ["MiiTel Phone", "Yes", "No"],
    ]
    html = admin_client_a.get(reverse("exports:import_detail", args=[job.pk])).content.decode()
    assert '<span class="diff-field">User name</span>: <del>Taro</del> → <ins>Jiro</ins>' in html
    assert '<span class="diff-field">MiiTel Phone</span>: <del>Yes</del> → <ins>No</ins>' in html


def test_rows_that_change_something_come_first(admin_client_a, org_a, admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    users = [
        UserFactory(organization=org_a, login_id=f"u{i:02d}@a.example.com", name=f"U{i:02d}")
        for i in range(12)
    ]
    rows = [same(u) for u in users]
    rows[9] = same(users[9], name="Changed")
    job = upload(admin_client_a, make_csv(rows))

    html = admin_client_a.get(reverse("exports:import_detail", args=[job.pk])).content.decode()
    listed = re.findall(r'<td class="num">(\d+)</td><td>(u\d\d@a\.example\.com)</td>', html)
    assert listed[0] == ("11", "u09@a.example.com")  # line 11: the one update, first
    assert [login for _line, login in listed[1:]] == [
        f"u{i:02d}@a.example.com" for i in range(12) if i != 9
    ]
