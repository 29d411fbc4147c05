"""The import's report page: each changed cell of an update as its old and its new value, and
the rows that change something listed before the unchanged ones."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from exports import importing
from exports.models import ImportJob
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


def test_a_large_file_is_checked_by_the_worker_and_its_page_follows_the_check(
    admin_client_a, org_a, admin_a, monkeypatch, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    monkeypatch.setattr(importing, "BACKGROUND_CHECK_ROWS", 3)
    rows = [same(UserFactory(organization=org_a), name=f"Renamed {i}") for i in range(5)]
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client_a.post(
            reverse("exports:import"),
            {"file": SimpleUploadedFile("big.csv", make_csv(rows)), "encoding": "utf-8"},
        )
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("exports:import_detail", args=[job.pk])
    assert job.status == ImportJob.Status.CHECKING
    page = admin_client_a.get(response["Location"])
    assert "Checking the file" in page.content.decode()
    assert '<meta http-equiv="refresh"' in page.content.decode()  # it follows the check
    status = admin_client_a.get(reverse("exports:import_status", args=[job.pk])).json()
    assert status["status"] == "checking"

    for callback in callbacks:  # the worker runs the check
        callback()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED
    assert job.report["counts"]["update"] == 5
    page = admin_client_a.get(response["Location"]).content.decode()
    assert "Every row passed the checks" in page
    status = admin_client_a.get(reverse("exports:import_status", args=[job.pk])).json()
    assert status["status"] == "validated"
